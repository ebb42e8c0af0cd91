/**
 * checkRegisteredClaims against jose's `jwtVerify`, which the resource kit used before: for any
 * mix of `typ`, `iss`, `aud`, `iat`, `nbf`, `exp` and required claims, both accept the same tokens
 * and refuse the others with the same jose error code and claim (property-based, fast-check).
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { jwtVerify, type JWTPayload } from 'jose'
import { ResourceAuthError } from '../../src/resource/index.js'
import { checkRegisteredClaims } from '../../src/resource/jwt_claims.js'

const ISSUER = 'http://localhost:9000'
const AUDIENCE = 'app-b'
const REQUIRED = ['exp', 'iat', 'sub', 'client_id', 'jti']
const TOLERANCE = 30
const NOW = 1_800_000_000
const RUNS = Number(process.env.CLAIMS_FUZZ_RUNS ?? 400)

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })

function signRaw(header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${signature.toString('base64url')}`
}

type Outcome = 'ok' | { code: string; claim: string }

async function joseOutcome(header: object, payload: JWTPayload): Promise<Outcome> {
  try {
    await jwtVerify(signRaw(header, payload), publicKey, {
      algorithms: ['ES256'],
      typ: 'at+jwt',
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTolerance: TOLERANCE,
      requiredClaims: REQUIRED,
      currentDate: new Date(NOW * 1000),
    })
    return 'ok'
  } catch (err) {
    const { code, claim } = err as { code: string; claim: string }
    return { code, claim }
  }
}

function ourOutcome(header: { typ?: unknown }, payload: JWTPayload): Outcome {
  try {
    checkRegisteredClaims(header, payload, {
      typ: 'at+jwt',
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: REQUIRED,
      clockToleranceSeconds: TOLERANCE,
      now: NOW,
    })
    return 'ok'
  } catch (err) {
    assert.ok(err instanceof ResourceAuthError)
    assert.equal(err.error, 'invalid_token')
    assert.equal(err.statusCode, 401)
    const { code, claim } = err.cause as { code: string; claim: string }
    assert.equal(err.detail, `${code}: claim ${claim} ${(err.cause as { reason: string }).reason}`)
    return { code, claim }
  }
}

/** Mostly the good value, sometimes absent or one of the odd ones, so every check gets reached. */
function claim<T>(good: T, ...odd: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constant(good), weight: 6 },
    { arbitrary: fc.constantFrom(undefined, ...odd), weight: 1 },
  )
}

const cases = fc.record({
  typ: claim(
    'at+jwt',
    'application/at+jwt',
    'AT+JWT',
    'Application/At+Jwt',
    'JWT',
    'jwt',
    'at+jwt ',
    7,
  ),
  iss: claim(ISSUER, `${ISSUER}/`, 'http://evil.example', 42, null),
  aud: claim(AUDIENCE, 'app-c', [AUDIENCE], ['x', AUDIENCE], ['x'], [], 7, null),
  // Around the tolerance edges: exp at now-30 is expired, nbf at now+30 is still accepted.
  exp: fc.constantFrom(undefined, 'soon', NOW + 300, NOW, NOW - 29, NOW - 30, NOW - 31, NOW - 3600),
  nbf: fc.constantFrom(undefined, undefined, 'soon', NOW - 10, NOW + 29, NOW + 30, NOW + 31),
  iat: claim(NOW, NOW - 10, NOW + 100, 'soon', null),
  sub: claim('user-alice'),
  client_id: claim('app-a'),
  jti: claim('j-1'),
})

describe('checkRegisteredClaims agrees with jose jwtVerify', () => {
  test('on every generated header and claim set', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ typ, ...claims }) => {
        const header = typ === undefined ? { alg: 'ES256' } : { alg: 'ES256', typ }
        const payload = Object.fromEntries(
          Object.entries(claims).filter(([, value]) => value !== undefined),
        ) as JWTPayload
        assert.deepEqual(ourOutcome(header, payload), await joseOutcome(header, payload))
      }),
      { numRuns: RUNS },
    )
  })

  test('on the boundaries, one by one', async () => {
    const good = {
      iss: ISSUER,
      aud: AUDIENCE,
      exp: NOW + 300,
      iat: NOW,
      sub: 's',
      client_id: 'c',
      jti: 'j',
    }
    const header = { alg: 'ES256', typ: 'at+jwt' }
    const variants: JWTPayload[] = [
      good,
      { ...good, exp: NOW - TOLERANCE },
      { ...good, exp: NOW - TOLERANCE + 1 },
      { ...good, nbf: NOW + TOLERANCE },
      { ...good, nbf: NOW + TOLERANCE + 1 },
      { ...good, iat: 'yesterday' as never },
      { ...good, exp: null as never },
      { ...good, aud: [] },
    ]
    for (const payload of variants) {
      assert.deepEqual(ourOutcome(header, payload), await joseOutcome(header, payload))
    }
    assert.equal(ourOutcome(header, good), 'ok')
  })
})
