/** Identity's reading of the configuration: the token pepper and the JWT settings. Services receive src/lib/context.ts. */
import type { Config } from '../config';

export function pepperOf(config: Config): string {
  if (!config.TOKEN_PEPPER) throw new Error('TOKEN_PEPPER is not set');
  return config.TOKEN_PEPPER;
}

export function jwtSettings(config: Config) {
  return { keys: config.JWT_PRIVATE_KEYS, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
}
