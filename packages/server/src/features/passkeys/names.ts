/**
 * A name for a new passkey that its owner will recognize in the list: the password manager or platform that
 * holds it (from the authenticator's AAGUID), else the browser and system that created it (from the user agent).
 * AAGUIDs from the community list at github.com/passkeydeveloper/passkey-authenticator-aaguids.
 */
const KNOWN_AAGUIDS: Readonly<Record<string, string>> = {
  'fbfc3007-154e-4ecc-8c0b-6e020557d7bd': 'iCloud Keychain',
  'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4': 'Google Password Manager',
  'adce0002-35bc-c60a-648b-0b25f1f05503': 'Chrome on Mac',
  '08987058-cadc-4b81-b6e1-30de50dcbe96': 'Windows Hello',
  '9ddd1817-af5a-4672-a2b9-3e3dd95000a9': 'Windows Hello',
  '6028b017-b1d4-4c02-b4b3-afcdafc96bb2': 'Windows Hello',
  'bada5566-a7aa-401f-bd96-45619a55120d': '1Password',
  'd548826e-79b4-db40-a3d8-11116f7e8349': 'Bitwarden',
  '531126d6-e717-415c-9320-3d9aa6981239': 'Dashlane',
};

const SYSTEMS: readonly [RegExp, string][] = [
  [/iPhone/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Macintosh|Mac OS X/, 'Mac'],
  [/Windows/, 'Windows'],
  [/Linux/, 'Linux'],
];

const BROWSERS: readonly [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];

export function suggestPasskeyName(aaguid: string, userAgent: string | null): string {
  const known = KNOWN_AAGUIDS[aaguid.toLowerCase()];
  if (known) return known;
  if (userAgent) {
    const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
    const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1];
    if (browser && system) return `${browser} on ${system}`;
    if (system ?? browser) return (system ?? browser) as string;
  }
  return 'Passkey';
}
