import { z } from 'zod';

// Field types shared by the configuration sections.
export const port = z.coerce.number().int().min(0).max(65535);

export const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(p)), {
      message: `must start with ${protocols.join(' or ')}`,
    });

/** An optional PEM block of the given label; literal "\\n" (one-line environment values) become newlines. */
export const pemOf = (label: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.replace(/\\n/g, '\n').trim()))
    .refine(
      (v) =>
        v === undefined || (v.startsWith(`-----BEGIN ${label}-----`) && v.endsWith(`-----END ${label}-----`)),
      {
        message: `must be a PEM block (-----BEGIN ${label}-----)`,
      },
    );

export const ipv4OrHost = z
  .string()
  .trim()
  .min(1)
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be an IP address or host name');

/** Exactly 32 bytes in standard or URL-safe base64 (`openssl rand -base64 32`). */
export const isBase64Key32 = (k: string) =>
  /^[A-Za-z0-9+/_-]+=*$/.test(k) && Buffer.from(k, 'base64').length === 32;

export const base64Key32 = z
  .string()
  .trim()
  .refine(isBase64Key32, { message: 'must be exactly 32 bytes, base64-encoded (openssl rand -base64 32)' })
  .transform((k) => Buffer.from(k, 'base64'));

/** A comma-separated list; empty entries dropped. */
export const commaList = (v: string | undefined): string[] =>
  v
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : [];

/** The issue list ConfigError carries: one entry per variable at fault. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Refuses the configuration over one variable. */
export function refuse(variable: string, message: string): never {
  throw new ConfigError([{ variable, message }]);
}
