import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJwksFile, checkJwksUri, checkKeySource } from '../../src/identity/key-sources.js';

describe('checking key sources at start-up', () => {
  let policyDir: string;
  beforeAll(async () => {
    policyDir = await mkdtemp(path.join(tmpdir(), 'jit-jwks-'));
  });
  afterAll(async () => {
    await rm(policyDir, { recursive: true, force: true });
  });
  const write = async (name: string, content: unknown) => {
    await writeFile(
      path.join(policyDir, name),
      typeof content === 'string' ? content : JSON.stringify(content),
    );
    return name;
  };

  it('accepts a JWKS of public keys, with or without alg', async () => {
    const ec = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const rsa = await exportJWK((await generateKeyPair('RS256')).publicKey);
    const file = await write('good.json', {
      keys: [
        { ...ec, kid: 'ec', alg: 'ES256' },
        { ...rsa, kid: 'rsa' },
      ],
    });

    await expect(checkJwksFile(policyDir, file)).resolves.toEqual([]);
    await expect(checkKeySource(policyDir, { jwks_file: file })).resolves.toEqual([]);
  });

  it('names a missing file and where it was looked for', async () => {
    const problems = await checkJwksFile(policyDir, '../nowhere/jwks.json');

    expect(problems).toEqual([
      `jwks_file ../nowhere/jwks.json: cannot read ${path.resolve(policyDir, '../nowhere/jwks.json')} (ENOENT)`,
    ]);
  });

  it.each([
    ['not JSON', '{ keys: ', /jwks_file bad\.json: not valid JSON/],
    ['not a key set', { kty: 'EC' }, /not a JSON Web Key Set/],
    ['an empty key set', { keys: [] }, /the key set has no keys/],
    ['a key without kty', { keys: [{ kid: 'x' }] }, /keys\[0\] is not a JWK/],
  ])('reports a file that is %s', async (_what, content, problem) => {
    const file = await write('bad.json', content);

    expect(await checkJwksFile(policyDir, file)).toEqual([expect.stringMatching(problem)]);
  });

  it('reports private key material published in the JWKS', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const file = await write('private.json', { keys: [await exportJWK(privateKey)] });

    expect(await checkJwksFile(policyDir, file)).toEqual([
      'jwks_file private.json: keys[0] holds private key material ("d"); publish only the public key',
    ]);
  });

  it('reports a symmetric key', async () => {
    const secret = await generateSecret('HS256', { extractable: true });
    const file = await write('oct.json', { keys: [await exportJWK(secret)] });

    expect(await checkJwksFile(policyDir, file)).toEqual([
      expect.stringContaining('keys[0] is a symmetric (oct) key'),
      expect.stringContaining('holds private key material ("k")'),
    ]);
  });

  it('reports a key that cannot be imported', async () => {
    const file = await write('broken.json', {
      keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'b' }],
    });

    expect(await checkJwksFile(policyDir, file)).toEqual([
      expect.stringMatching(/keys\[0\] cannot be imported/),
    ]);
  });

  it('reports two keys that a token could not tell apart', async () => {
    const ec = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const file = await write('dupes.json', {
      keys: [
        { ...ec, kid: 'same' },
        { ...ec, kid: 'same' },
      ],
    });

    expect(await checkJwksFile(policyDir, file)).toEqual([
      expect.stringMatching(/keys\[1\] repeats kid "same"/),
    ]);
  });

  it.each([
    ['https://k8s.example.com/openid/v1/jwks', []],
    ['http://127.0.0.1:8443/jwks', []],
    ['http://localhost:8443/jwks', []],
    ['http://issuer.internal/jwks', [expect.stringMatching(/must use https/)]],
    ['file:///etc/jwks.json', [expect.stringMatching(/must use https/)]],
    ['not a url', [expect.stringMatching(/not an absolute URL/)]],
  ])('checks the jwks_uri %s', (uri, problems) => {
    expect(checkJwksUri(uri)).toEqual(problems);
  });
});
