import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationCredential,
  PasskeyCreationOptions,
  PasskeyRequestOptions,
  RegistrationCredential,
} from '@gatehouse/protocol';
import { type CBORType, encodeCBOR } from '@levischuck/tiny-cbor';

/**
 * A software WebAuthn authenticator for tests: P-256 (ES256) keys, `none` attestation, discoverable credentials.
 * It builds clientDataJSON, authenticatorData and the attestation object byte for byte as the WebAuthn spec
 * (Level 3, §6.1 and §6.5) lays them out, and answers with what a browser's `PublicKeyCredential.toJSON()` gives.
 * Every field a test may want wrong (origin, RP id, challenge, counter, flags, user handle) can be overridden.
 */

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface StoredCredential {
  id: string;
  privateKey: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface AuthenticatorOptions {
  origin: string;
  /** AAGUID as 32 hex digits (with or without dashes); all zeros by default, as many platforms send. */
  aaguid?: string;
  /** Whether the authenticator verifies the user (PIN or biometric); true by default. */
  userVerification?: boolean;
  /** Whether credentials are synced (backup eligible and backed up): false by default. */
  backedUp?: boolean;
  /** Signature counter step per assertion; 0 imitates authenticators that do not count. 1 by default. */
  counterStep?: number;
}

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  type?: string;
  userVerification?: boolean;
  userPresence?: boolean;
}

export interface AssertionOverrides extends CeremonyOverrides {
  /** Sign with this credential rather than the first one the options allow. */
  credentialId?: string;
  /** Send this counter instead of the next one (clone simulation). */
  counter?: number;
  userHandle?: string;
}

export class SoftwareAuthenticator {
  readonly credentials = new Map<string, StoredCredential>();
  private readonly origin: string;
  private readonly aaguid: Uint8Array;
  private readonly userVerification: boolean;
  private readonly backedUp: boolean;
  private readonly counterStep: number;

  constructor(options: AuthenticatorOptions) {
    this.origin = options.origin;
    this.aaguid = new Uint8Array(Buffer.from((options.aaguid ?? '0'.repeat(32)).replaceAll('-', ''), 'hex'));
    this.userVerification = options.userVerification ?? true;
    this.backedUp = options.backedUp ?? false;
    this.counterStep = options.counterStep ?? 1;
  }

  /** `navigator.credentials.create()` for `options`. */
  register(options: PasskeyCreationOptions, overrides: CeremonyOverrides = {}): RegistrationCredential {
    const rpId = overrides.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const credentialId = new Uint8Array(randomBytes(32));
    const id = Buffer.from(credentialId).toString('base64url');
    const counter = this.counterStep > 0 ? 1 : 0;
    this.credentials.set(id, { id, privateKey, rpId, userHandle: options.user.id, counter });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = new Map<number, CBORType>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, new Uint8Array(Buffer.from(String(jwk.x), 'base64url'))],
      [-3, new Uint8Array(Buffer.from(String(jwk.y), 'base64url'))],
    ]);
    const attestedCredentialData = concat(this.aaguid, uint16(credentialId.length), credentialId, encodeCBOR(coseKey));
    const authenticatorData = concat(
      sha256(rpId),
      new Uint8Array([this.flags(overrides) | FLAG_AT]),
      uint32(counter),
      attestedCredentialData,
    );
    const attestationObject = encodeCBOR(
      new Map<string, CBORType>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authenticatorData],
      ]),
    );
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData('webauthn.create', options.challenge, overrides),
        attestationObject: b64url(attestationObject),
        transports: ['internal', 'hybrid'],
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** `navigator.credentials.get()` for `options`: signs with an allowed credential, or any when none are listed. */
  assert(options: PasskeyRequestOptions, overrides: AssertionOverrides = {}): AuthenticationCredential {
    const allowed = options.allowCredentials?.map((descriptor) => descriptor.id) ?? [];
    const id =
      overrides.credentialId ??
      [...this.credentials.keys()].find((candidate) => allowed.length === 0 || allowed.includes(candidate));
    const stored = id === undefined ? undefined : this.credentials.get(id);
    if (!stored) throw new Error('no credential of this authenticator matches the options');
    stored.counter = overrides.counter ?? stored.counter + this.counterStep;
    const rpId = overrides.rpId ?? options.rpId ?? stored.rpId;
    const authenticatorData = concat(sha256(rpId), new Uint8Array([this.flags(overrides)]), uint32(stored.counter));
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides);
    const signature = sign(
      'sha256',
      concat(authenticatorData, sha256Bytes(Buffer.from(clientDataJSON, 'base64url'))),
      stored.privateKey,
    );
    return {
      id: stored.id,
      rawId: stored.id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        userHandle: overrides.userHandle ?? stored.userHandle,
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  private flags(overrides: CeremonyOverrides): number {
    let flags = overrides.userPresence === false ? 0 : FLAG_UP;
    if (overrides.userVerification ?? this.userVerification) flags |= FLAG_UV;
    if (this.backedUp) flags |= FLAG_BE | FLAG_BS;
    return flags;
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): string {
    const data = {
      type: overrides.type ?? type,
      challenge: overrides.challenge ?? challenge,
      origin: overrides.origin ?? this.origin,
      crossOrigin: false,
    };
    return Buffer.from(JSON.stringify(data), 'utf8').toString('base64url');
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function uint16(value: number): Uint8Array {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return new Uint8Array(bytes);
}

function uint32(value: number): Uint8Array {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return new Uint8Array(bytes);
}

function sha256(text: string): Uint8Array {
  return sha256Bytes(Buffer.from(text, 'utf8'));
}

function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
