/**
 * Access tokens: ES256 JWTs (RFC 7519, RFC 8725 best practices) signed with the
 * first key of JWT_PRIVATE_KEYS; every key's public half is published at
 * /.well-known/jwks.json, so a new key can be added (published) before it signs
 * and an old one kept (verifying) until its last token expires.
 */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { AppError } from '../lib/problem';
import { TtlCache } from './credential-cache';
import type { Role } from './roles';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const ALG = 'ES256';

export interface AccessClaims {
  sub: string;
  tid: string;
  role: Role;
  jti: string;
}

export interface VerifiedClaims extends AccessClaims {
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

interface KeyRing {
  signingKid: string;
  signingKey: CryptoKey;
  jwks: JSONWebKeySet;
  verify: ReturnType<typeof createLocalJWKSet>;
  /** Tokens verified with this ring, by their exact text (`verifyAccessToken`). */
  verified: TtlCache<Verified>;
}

/** A token whose signature and fixed claims passed; its times are checked again on every use. */
interface Verified {
  claims: VerifiedClaims;
  nbf: number | null;
  issuer: string;
  audience: string;
}

/** Verified tokens an isolate keeps (oldest dropped first): a console session presents the same token for up to 15 minutes. */
const VERIFIED_MAX = 4_096;
/**
 * How long one is kept: a token's whole life and a minute more, so an entry outlives its token and
 * the check of `exp` on every use, not the cache's own expiry, is what refuses it.
 */
const VERIFIED_KEPT_MS = (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000;
/** Seconds of clock skew allowed on exp and nbf, as jwtVerify's clockTolerance. */
const CLOCK_TOLERANCE_S = 5;

const rings = new Map<string, Promise<KeyRing>>();

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ext: _ext, ...pub } = jwk;
  return { ...pub, use: 'sig', alg: ALG };
}

async function buildRing(raw: string): Promise<KeyRing> {
  let keys: JWK[];
  try {
    keys = JSON.parse(raw) as JWK[];
  } catch {
    throw new Error('JWT_PRIVATE_KEYS is not valid JSON');
  }
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('JWT_PRIVATE_KEYS must be a non-empty JSON array of JWKs');
  for (const k of keys) {
    if (k.kty !== 'EC' || k.crv !== 'P-256' || !k.d || !k.kid)
      throw new Error('each JWT_PRIVATE_KEYS entry must be an EC P-256 private JWK with a kid');
  }
  const first = keys[0]!;
  const signingKey = (await importJWK({ ...first, alg: ALG }, ALG)) as CryptoKey;
  const jwks: JSONWebKeySet = { keys: keys.map(publicPart) };
  return {
    signingKid: first.kid!,
    signingKey,
    jwks,
    verify: createLocalJWKSet(jwks),
    verified: new TtlCache<Verified>(VERIFIED_KEPT_MS, VERIFIED_MAX),
  };
}

/** Parses and caches the key ring for this isolate (keyed by the secret's value). */
export function keyRing(raw: string | undefined): Promise<KeyRing> {
  if (!raw) return Promise.reject(new Error('JWT_PRIVATE_KEYS is not set'));
  let ring = rings.get(raw);
  if (!ring) {
    ring = buildRing(raw);
    ring.catch(() => rings.delete(raw));
    rings.set(raw, ring);
  }
  return ring;
}

export interface JwtSettings {
  keys: string | undefined;
  issuer: string;
  audience: string;
}

export async function signAccessToken(s: JwtSettings, claims: AccessClaims, now = Date.now()): Promise<string> {
  const ring = await keyRing(s.keys);
  const iat = Math.floor(now / 1000);
  return new SignJWT({ tid: claims.tid, role: claims.role })
    .setProtectedHeader({ alg: ALG, kid: ring.signingKid, typ: 'at+jwt' })
    .setSubject(claims.sub)
    .setIssuer(s.issuer)
    .setAudience(s.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(claims.jti)
    .sign(ring.signingKey);
}

export async function publicJwks(keys: string | undefined): Promise<JSONWebKeySet> {
  return (await keyRing(keys)).jwks;
}

const invalid = (detail: string) =>
  new AppError('unauthorized', detail, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });

/**
 * Verifies signature (ES256 only: `none` and HS256-with-the-public-key are refused
 * by the algorithm allow-list, RFC 8725 §3.1), kid, iss, aud, exp, nbf and the
 * claims we rely on. Every failure is the same generic 401 to the client.
 *
 * A token that passed is remembered by its exact text with the ring that verified it, so the same
 * token presented again skips the signature check (an ECDSA verification, most of a JWT request's
 * authentication CPU, issue 20); exp and nbf are checked on every use, with the same tolerance.
 * Any other text, a tampered byte included, is verified in full. Refusals are not remembered. A
 * rotated key set builds a new ring and so starts with no remembered tokens.
 */
export async function verifyAccessToken(s: JwtSettings, token: string, now = Date.now()): Promise<VerifiedClaims> {
  const ring = await keyRing(s.keys);
  const known = ring.verified.get(token, now);
  if (known && known.issuer === s.issuer && known.audience === s.audience) {
    const at = Math.floor(now / 1000);
    if (known.claims.exp <= at - CLOCK_TOLERANCE_S || (known.nbf !== null && known.nbf > at + CLOCK_TOLERANCE_S)) {
      throw invalid('The access token is invalid or expired.');
    }
    return { ...known.claims };
  }
  // RFC 8725 §3.10 and our contract: the key is named, never guessed (even with a single key).
  try {
    if (!decodeProtectedHeader(token).kid) throw new Error('no kid');
  } catch {
    throw invalid('The access token is invalid or expired.');
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, ring.verify, {
      algorithms: [ALG],
      issuer: s.issuer,
      audience: s.audience,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'tid', 'role', 'jti', 'iat', 'exp'],
      currentDate: new Date(now),
      clockTolerance: CLOCK_TOLERANCE_S,
    }));
  } catch {
    throw invalid('The access token is invalid or expired.');
  }
  const { sub, tid, role, jti, iat, exp, nbf } = payload as JWTPayload & { tid?: unknown; role?: unknown };
  if (
    typeof sub !== 'string' ||
    typeof tid !== 'string' ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    (role !== 'admin' && role !== 'member' && role !== 'viewer')
  ) {
    throw invalid('The access token is invalid or expired.');
  }
  const claims: VerifiedClaims = { sub, tid, role, jti, iat, exp };
  ring.verified.set(token, { claims, nbf: typeof nbf === 'number' ? nbf : null, issuer: s.issuer, audience: s.audience }, now);
  return claims;
}
