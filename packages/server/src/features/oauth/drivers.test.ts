import { describe, expect, it } from 'vitest';
import { type FetchJson, PRESETS, profileFromClaims } from './drivers.js';

/** The user APIs of the OAuth 2 presets, answered from fixed documents shaped as the providers document them. */
function api(documents: Record<string, unknown>): FetchJson {
  return async (url) => {
    if (!(url in documents)) throw new Error(`unexpected ${url}`);
    return documents[url];
  };
}

describe('profiles', () => {
  it('takes OpenID claims, and only an explicit email_verified (Apple sends the string "true")', () => {
    expect(profileFromClaims({ sub: 'a', email: 'A@x.test', email_verified: true, name: 'Ada King Lovelace' })).toEqual(
      {
        subject: 'a',
        email: 'A@x.test',
        emailVerified: true,
        firstName: 'Ada King',
        lastName: 'Lovelace',
        avatar: null,
      },
    );
    expect(profileFromClaims({ sub: 'a', email: 'a@x.test', email_verified: 'true' })?.emailVerified).toBe(true);
    expect(profileFromClaims({ sub: 'a', email: 'a@x.test' })?.emailVerified).toBe(false);
    expect(profileFromClaims({ sub: 'a', email: 'a@x.test', email_verified: 'yes' })?.emailVerified).toBe(false);
    expect(profileFromClaims({ email: 'a@x.test' })).toBeNull();
  });

  it('reads Discord with its verified flag', async () => {
    const preset = PRESETS.discord;
    if (preset.kind !== 'oauth2') throw new Error('discord is an OAuth 2 preset');
    const profile = await preset.profile(
      api({
        'https://discord.com/api/users/@me': {
          id: '80351110224678912',
          username: 'nelly',
          global_name: 'Nelly Bly',
          avatar: '8342729096ea3675442027381ff50dfe',
          email: 'nelly@discord.test',
          verified: true,
        },
      }),
      preset.userinfoUrl,
    );
    expect(profile).toEqual({
      subject: '80351110224678912',
      email: 'nelly@discord.test',
      emailVerified: true,
      firstName: 'Nelly',
      lastName: 'Bly',
      avatar: 'https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png',
    });
  });

  it('reads Facebook, whose e-mail is only ever a confirmed one', async () => {
    const preset = PRESETS.facebook;
    if (preset.kind !== 'oauth2') throw new Error('facebook is an OAuth 2 preset');
    const base = preset.userinfoUrl;
    const profile = await preset.profile(
      api({
        [`${base}/me?fields=id,first_name,last_name,email,picture`]: {
          id: '10',
          first_name: 'Grace',
          last_name: 'Hopper',
          email: 'grace@fb.test',
          picture: { data: { url: 'https://fb.test/p.jpg' } },
        },
      }),
      base,
    );
    expect(profile).toMatchObject({
      subject: '10',
      email: 'grace@fb.test',
      emailVerified: true,
      avatar: 'https://fb.test/p.jpg',
    });
  });

  it('reads GitHub: a verified address only, the primary one first', async () => {
    const preset = PRESETS.github;
    if (preset.kind !== 'oauth2') throw new Error('github is an OAuth 2 preset');
    const read = (emails: unknown) =>
      preset.profile(
        api({
          'https://api.github.com/user': {
            id: 1,
            login: 'octocat',
            name: null,
            avatar_url: null,
            email: 'public@gh.test',
          },
          'https://api.github.com/user/emails': emails,
        }),
        'https://api.github.com/',
      );
    expect(
      await read([
        { email: 'old@gh.test', primary: false, verified: true },
        { email: 'main@gh.test', primary: true, verified: true },
      ]),
    ).toMatchObject({ subject: '1', email: 'main@gh.test', emailVerified: true, firstName: 'octocat' });
    expect(await read([{ email: 'other@gh.test', primary: false, verified: true }])).toMatchObject({
      email: 'other@gh.test',
      emailVerified: true,
    });
    // The public e-mail of /user is never taken: GitHub does not say it is verified.
    expect(await read([{ email: 'main@gh.test', primary: true, verified: false }])).toMatchObject({
      email: null,
      emailVerified: false,
    });
  });
});
