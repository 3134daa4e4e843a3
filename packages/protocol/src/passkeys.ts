import { type Static, Type } from '@sinclair/typebox';
import { AuthMode, Email, NullableString, StringEnum } from './schemas.js';

/**
 * Passkeys (WebAuthn). The options answers are the `PublicKeyCredentialCreationOptionsJSON` and
 * `PublicKeyCredentialRequestOptionsJSON` of the WebAuthn Level 3 spec, ready for
 * `PublicKeyCredential.parseCreationOptionsFromJSON()` / `parseRequestOptionsFromJSON()` (or
 * `@simplewebauthn/browser`); the bodies carry the browser's `credential.toJSON()`.
 */

const Base64Url = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$' });

const CredentialDescriptor = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    transports: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);

export const PasskeyCreationOptions = Type.Object(
  {
    rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }, { additionalProperties: true }),
    user: Type.Object(
      { id: Type.String(), name: Type.String(), displayName: Type.String() },
      { additionalProperties: true },
    ),
    challenge: Type.String(),
    pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.String() })),
    timeout: Type.Optional(Type.Integer()),
    excludeCredentials: Type.Optional(Type.Array(CredentialDescriptor)),
    authenticatorSelection: Type.Optional(Type.Object({}, { additionalProperties: true })),
    hints: Type.Optional(Type.Array(Type.String())),
    attestation: Type.Optional(Type.String()),
    extensions: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);
export type PasskeyCreationOptions = Static<typeof PasskeyCreationOptions>;

export const PasskeyRequestOptions = Type.Object(
  {
    challenge: Type.String(),
    timeout: Type.Optional(Type.Integer()),
    rpId: Type.Optional(Type.String()),
    allowCredentials: Type.Optional(Type.Array(CredentialDescriptor)),
    userVerification: Type.Optional(Type.String()),
    hints: Type.Optional(Type.Array(Type.String())),
    extensions: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);
export type PasskeyRequestOptions = Static<typeof PasskeyRequestOptions>;

/** The browser's `PublicKeyCredential.toJSON()` after `navigator.credentials.create()`. */
export const RegistrationCredential = Type.Object(
  {
    id: Base64Url(1400),
    rawId: Base64Url(1400),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: Base64Url(4096),
        attestationObject: Base64Url(16384),
        authenticatorData: Type.Optional(Base64Url(16384)),
        transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 })),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(Base64Url(4096)),
      },
      { additionalProperties: true },
    ),
    authenticatorAttachment: Type.Optional(NullableString({ maxLength: 32 })),
    clientExtensionResults: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: true },
);
export type RegistrationCredential = Static<typeof RegistrationCredential>;

/** The browser's `PublicKeyCredential.toJSON()` after `navigator.credentials.get()`. */
export const AuthenticationCredential = Type.Object(
  {
    id: Base64Url(1400),
    rawId: Base64Url(1400),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: Base64Url(4096),
        authenticatorData: Base64Url(16384),
        signature: Base64Url(2048),
        userHandle: Type.Optional(NullableString({ maxLength: 128, pattern: '^[A-Za-z0-9_-]*$' })),
      },
      { additionalProperties: true },
    ),
    authenticatorAttachment: Type.Optional(NullableString({ maxLength: 32 })),
    clientExtensionResults: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: true },
);
export type AuthenticationCredential = Static<typeof AuthenticationCredential>;

export const PasskeyName = Type.String({ minLength: 1, maxLength: 64 });

export const RegisterPasskeyBody = Type.Object(
  {
    credential: RegistrationCredential,
    /** Defaults to a name suggested from the authenticator's AAGUID or the browser's user agent. */
    name: Type.Optional(PasskeyName),
  },
  { additionalProperties: false },
);
export type RegisterPasskeyBody = Static<typeof RegisterPasskeyBody>;

export const RenamePasskeyBody = Type.Object({ name: PasskeyName }, { additionalProperties: false });
export type RenamePasskeyBody = Static<typeof RenamePasskeyBody>;

export const PasskeyIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const UserPasskeyParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  passkeyId: Type.String({ minLength: 1, maxLength: 64 }),
});

export const Passkey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: NullableString({ format: 'date-time' }),
  /** The credential is synced (multi-device), e.g. in iCloud Keychain or Google Password Manager. */
  backed_up: Type.Boolean(),
  device_type: StringEnum(['singleDevice', 'multiDevice']),
  /** Authenticator model id (all zeros when the authenticator does not say). */
  aaguid: Type.String(),
  transports: Type.Array(Type.String()),
});
export type Passkey = Static<typeof Passkey>;

export const PasskeyLoginOptionsBody = Type.Object(
  {
    /** Omit for usernameless sign-in and browser autofill (discoverable credentials). */
    email: Type.Optional(Email),
  },
  { additionalProperties: false },
);
export type PasskeyLoginOptionsBody = Static<typeof PasskeyLoginOptionsBody>;

export const PasskeyLoginVerifyBody = Type.Object(
  { credential: AuthenticationCredential, mode: Type.Optional(AuthMode) },
  { additionalProperties: false },
);
export type PasskeyLoginVerifyBody = Static<typeof PasskeyLoginVerifyBody>;
