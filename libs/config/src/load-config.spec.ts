import { ConfigError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { brokerList, port } from './common';
import { loadConfig } from './load-config';

const schema = z.object({ KAFKA_BROKERS: brokerList, PORT: port.default(8080), NAME: z.string() });

describe('loadConfig', () => {
  it('returns the typed configuration with defaults', () => {
    expect(loadConfig(schema, { KAFKA_BROKERS: 'a:1, b:2', NAME: 'x', PORT: '' })).toEqual({ KAFKA_BROKERS: ['a:1', 'b:2'], PORT: 8080, NAME: 'x' });
  });

  it('names every invalid key at once', () => {
    let error: unknown;
    try {
      loadConfig(schema, { KAFKA_BROKERS: 'nohost', PORT: '99999' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('KAFKA_BROKERS');
    expect(message).toContain('PORT');
    expect(message).toContain('NAME');
    expect((error as ConfigError).issues).toHaveLength(3);
    expect((error as ConfigError).issues).toContainEqual({ path: 'NAME', message: 'is required' });
  });
});
