import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What an application installing @gatehouse/sdk gets must stand on its own: every package the SDK's code or its
 * type declarations import is one of its dependencies, and a workspace package among them is publishable (not
 * `private`), or the published types would name a package nobody can install.
 */
const sdk = fileURLToPath(new URL('..', import.meta.url));
const packages = join(sdk, '..');

interface Manifest {
  name: string;
  private?: boolean;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = (folder: string): Manifest => JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The package names a file imports (types included), without Node built-ins and relative paths. */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const names = new Set<string>();
  for (const match of text.matchAll(/\bfrom\s+'([^'.][^']*)'|\bimport\(\s*'([^'.][^']*)'\s*\)/g)) {
    const specifier = match[1] ?? match[2] ?? '';
    if (specifier.startsWith('node:')) continue;
    const parts = specifier.split('/');
    names.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
  }
  return [...names];
}

describe('the published package', () => {
  const own = manifest(sdk);
  const declared = { ...own.dependencies, ...own.peerDependencies };
  const workspace = new Map(
    readdirSync(packages).map((folder) => {
      const found = manifest(join(packages, folder));
      return [found.name, found] as const;
    }),
  );

  it('imports only packages it declares as dependencies', () => {
    const files = sources(join(sdk, 'src'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const name of importedPackages(file)) expect(declared, `${file} imports ${name}`).toHaveProperty([name]);
    }
  });

  it('depends on no private workspace package', () => {
    for (const name of Object.keys(declared)) {
      const local = workspace.get(name);
      if (!local) continue;
      expect(local.private, `${name} is private`).not.toBe(true);
      expect(local.files, `${name} publishes its dist folder`).toContain('dist');
    }
  });
});
