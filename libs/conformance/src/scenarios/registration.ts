import { decodeEvent, EventTypes, keyLookup, verifyMessage } from '@retention/contracts';
import { expectThat, latestRegistration } from '../kit-context';
import { ScenarioFailure } from '../options';
import type { Scenario } from './scenario';

/** The manifest is on the registry topic, valid, signed by the key it presents, and lists the test subjects' type. */
export const registration: Scenario = {
  name: 'registration',
  title: 'registered: a valid manifest, signed by the key it presents',
  async run(ctx) {
    const { service, subjectType } = ctx.options;
    const found = await ctx.registry.waitFor(
      `a registration of "${service}" on ${ctx.topics.registry}`,
      (all) => latestRegistration(all, service),
      ctx.options.timeoutMs,
    );
    const decoded = decodeEvent(found.value, [EventTypes.serviceRegistered]);
    if (!decoded.ok) throw new ScenarioFailure(`the registration does not decode: ${decoded.error.message}`);
    if (decoded.event.type !== EventTypes.serviceRegistered) throw new ScenarioFailure('not a registration');
    const manifest = decoded.event.data;
    expectThat(manifest.service === service, `the registration keyed "${service}" names "${manifest.service}"`);
    const key = await ctx.serviceKey();
    try {
      verifyMessage(keyLookup([key]), { topic: found.topic, key: found.key, value: found.value }, found.headers);
    } catch (error) {
      throw new ScenarioFailure(`the registration is not signed by the key it presents (${(error as { code?: string }).code ?? String(error)})`);
    }
    const types = manifest.subjects.map((s) => s.type);
    expectThat(types.includes(subjectType), `the manifest lists no subject type "${subjectType}" (it lists: ${types.join(', ') || 'none'})`);
    return `version ${manifest.version}, ${manifest.policies.length} policies, subject types ${types.join(', ')}, signed by key ${key.keyId}`;
  },
};
