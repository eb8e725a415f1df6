import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, checkpointSignatureFailure, checkpointSigningInput, LedgerCheckpointV1, signCheckpoint } from './checkpoint';
import { generateSigningKeyPair, keyLookup, parsePrivateKey, parsePublicKey, signingInput } from './message-signature';

const pair = generateSigningKeyPair();
const key = { keyId: 'coordinator-1', privateKey: parsePrivateKey(pair.privateKey, 'test') };
const lookup = keyLookup([{ keyId: 'coordinator-1', publicKey: parsePublicKey(pair.publicKey, 'test'), owner: 'coordinator' }]);
const checkpoint = signCheckpoint(key, { treeSize: 42, rootHash: 'ab'.repeat(32), lastEntryHash: 'cd'.repeat(32), timestamp: '2026-12-02T10:00:00.000Z' });

describe('signed checkpoints', () => {
  it('verify with the coordinator key, and parse as the checkpoint event', () => {
    expect(checkpointSignatureFailure(lookup, checkpoint)).toBeNull();
    expect(LedgerCheckpointV1.parse(checkpoint)).toEqual(checkpoint);
  });

  it('fail when any signed field changes, or the key is not trusted', () => {
    const changed: Array<Partial<Checkpoint>> = [
      { treeSize: 43 },
      { rootHash: 'ef'.repeat(32) },
      { lastEntryHash: 'ef'.repeat(32) },
      { timestamp: '2026-12-02T10:00:00.001Z' },
    ];
    for (const change of changed) expect(checkpointSignatureFailure(lookup, { ...checkpoint, ...change }), JSON.stringify(change)).toBe('signature_invalid');
    expect(checkpointSignatureFailure(lookup, { ...checkpoint, keyId: 'other' })).toBe('unknown_signing_key');
  });

  it('cannot be made from a message signature over the same text (domain separation)', () => {
    const text = checkpointSigningInput(checkpoint).toString('utf8');
    const forged = sign(null, signingInput({ topic: 'data.retention', key: null, value: text }, checkpoint.timestamp), key.privateKey).toString('base64url');
    expect(checkpointSignatureFailure(lookup, { ...checkpoint, signature: forged })).toBe('signature_invalid');
  });
});
