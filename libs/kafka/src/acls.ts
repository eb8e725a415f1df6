import { serviceCommandGroup, type TopicNames, topicNames } from '@retention/contracts';
import kafkajs, { type Admin, type AclEntry } from 'kafkajs';

// kafkajs is CommonJS, and Node cannot see these enums as named exports of it.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/** One grant: `principal` may do `operation` on a topic or consumer group (named exactly, or by prefix). */
export interface PlatformAcl {
  /** A Kafka principal, `User:<name>`. */
  principal: string;
  resource: 'topic' | 'group';
  /** Topic or group name; with `pattern: 'prefixed'`, every name that starts with it. */
  name: string;
  pattern: 'literal' | 'prefixed';
  operation: 'read' | 'write' | 'describe' | 'delete';
}

export interface PlatformAclOptions {
  /** RETENTION_TOPIC_PREFIX of the deployment: topic names and consumer group ids start with it. */
  prefix?: string;
  /** Domain services; each authenticates as the principal `User:<service>`. */
  services: readonly string[];
  /** The coordinator's principal name (default `coordinator`). */
  coordinator?: string;
  /** Principals that read the ledger's signed checkpoints (default `auditor`). */
  auditors?: readonly string[];
}

/**
 * The ACLs of a secured cluster (docs/security.md, "Kafka principals and ACLs"): only the
 * coordinator writes commands and holds and reads acks; a service reads commands and holds and
 * writes acks, its registration and dead letters; each reads with its own consumer groups. The
 * group names are those of the coordinator (`retention.coordinator.acks`, one
 * `retention.coordinator.registry.<instance>` per replica) and the SDK (`retention.<service>`, one
 * `retention.<service>.holds.<instance>` per instance). Only the coordinator writes the ledger's
 * checkpoints; it and the auditors read them. Read and Write imply Describe, which is all
 * `ensureTopics` needs where the topics exist. Nobody but a super user may create topics or ACLs.
 */
export function platformAcls(options: PlatformAclOptions): PlatformAcl[] {
  const prefix = options.prefix ?? '';
  const topics: TopicNames = topicNames(prefix);
  const coordinator = options.coordinator ?? 'coordinator';
  const acls: PlatformAcl[] = [];
  const grant = (
    user: string,
    resource: PlatformAcl['resource'],
    name: string,
    operation: PlatformAcl['operation'],
    pattern: PlatformAcl['pattern'] = 'literal',
  ): void => {
    acls.push({ principal: `User:${user}`, resource, name, pattern, operation });
  };

  grant(coordinator, 'topic', topics.commands, 'write');
  grant(coordinator, 'topic', topics.holds, 'write');
  grant(coordinator, 'topic', topics.acks, 'read');
  grant(coordinator, 'topic', topics.registry, 'read');
  grant(coordinator, 'topic', topics.dlq, 'write');
  // Command keys (wrapped with the shared key-encryption key): written by the coordinator only.
  grant(coordinator, 'topic', topics.keys, 'write');
  grant(coordinator, 'group', `${prefix}retention.coordinator.acks`, 'read');
  grant(coordinator, 'group', `${prefix}retention.coordinator.registry.`, 'read', 'prefixed');
  // Signed checkpoints of the ledger: written by the coordinator only, read back by each replica.
  grant(coordinator, 'topic', topics.checkpoints, 'write');
  grant(coordinator, 'topic', topics.checkpoints, 'read');
  grant(coordinator, 'group', `${prefix}retention.coordinator.checkpoints.`, 'read', 'prefixed');
  // The coordinator reads each service's lag on the command topic (redelivery waits for a service
  // that is behind): Describe on the service's group lets it fetch the committed offsets, no more.
  for (const service of options.services) grant(coordinator, 'group', serviceCommandGroup(prefix, service), 'describe');

  for (const service of options.services) {
    grant(service, 'topic', topics.commands, 'read');
    grant(service, 'topic', topics.holds, 'read');
    grant(service, 'topic', topics.acks, 'write');
    grant(service, 'topic', topics.registry, 'write');
    grant(service, 'topic', topics.dlq, 'write');
    grant(service, 'group', serviceCommandGroup(prefix, service), 'read');
    grant(service, 'group', `${prefix}retention.${service}.holds.`, 'read', 'prefixed');
    // The holds replica uses a group per process start and deletes it when it stops.
    grant(service, 'group', `${prefix}retention.${service}.holds.`, 'delete', 'prefixed');
    // The command keys replica: also a group per process start, deleted when it stops.
    grant(service, 'topic', topics.keys, 'read');
    grant(service, 'group', `${prefix}retention.${service}.keys.`, 'read', 'prefixed');
    grant(service, 'group', `${prefix}retention.${service}.keys.`, 'delete', 'prefixed');
  }

  // Auditors compare the checkpoints outside the database with what they are shown; nothing else.
  for (const auditor of options.auditors ?? ['auditor']) {
    grant(auditor, 'topic', topics.checkpoints, 'read');
    grant(auditor, 'group', `${prefix}retention.${auditor}.`, 'read', 'prefixed');
  }
  return acls;
}

const OPERATIONS = {
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  describe: AclOperationTypes.DESCRIBE,
  delete: AclOperationTypes.DELETE,
} as const;

function toKafkajs(acl: PlatformAcl): AclEntry {
  return {
    resourceType: acl.resource === 'topic' ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
    resourceName: acl.name,
    resourcePatternType: acl.pattern === 'literal' ? ResourcePatternTypes.LITERAL : ResourcePatternTypes.PREFIXED,
    principal: acl.principal,
    host: '*',
    operation: OPERATIONS[acl.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/** Creates the ACLs (an ACL that exists already is left as it is). Needs a principal allowed to alter the cluster. */
export async function createPlatformAcls(admin: Admin, acls: readonly PlatformAcl[]): Promise<void> {
  if (acls.length > 0) await admin.createAcls({ acl: acls.map(toKafkajs) });
}

/** Deletes exactly these ACLs (a test's, when it is done with its topic prefix). */
export async function deletePlatformAcls(admin: Admin, acls: readonly PlatformAcl[]): Promise<void> {
  if (acls.length > 0) await admin.deleteAcls({ filters: acls.map(toKafkajs) });
}
