export interface SigningJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}
export function generateSigningKey(): Promise<SigningJwk>;
export function generateSigningKeys(count?: number): Promise<SigningJwk[]>;
