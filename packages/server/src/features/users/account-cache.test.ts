import { describe, expect, it } from 'vitest';
import type { UserProfile } from '../../db/types.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { AccountCache } from './account-cache.js';

const account = (id: string, first_name = 'Ada') => ({ id, first_name }) as UserProfile;

describe('AccountCache', () => {
  it('answers an account for `ttl` after it was read, then reads again', () => {
    const clock = new FakeClock();
    const cache = new AccountCache(clock, { ttl: 1000, max: 10 });
    cache.keep(account('a'), cache.generation);
    clock.advance(999);
    expect(cache.get('a')?.first_name).toBe('Ada');
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops every account on a change, and does not keep a read that was under way during one', () => {
    const cache = new AccountCache(new FakeClock(), { ttl: 1000, max: 10 });
    cache.keep(account('a'), cache.generation);
    const before = cache.generation;
    cache.forgetAll();
    expect(cache.get('a')).toBeUndefined();
    // Read before the change, answered after it: used for this request, not kept.
    const stale = cache.keep(account('b', 'Old'), before);
    expect(stale.first_name).toBe('Old');
    expect(cache.get('b')).toBeUndefined();
    cache.keep(account('b', 'New'), cache.generation);
    expect(cache.get('b')?.first_name).toBe('New');
  });

  it('holds at most `max` accounts, dropping the oldest read', () => {
    const cache = new AccountCache(new FakeClock(), { ttl: 1000, max: 2 });
    cache.keep(account('a'), cache.generation);
    cache.keep(account('b'), cache.generation);
    cache.keep(account('a'), cache.generation);
    cache.keep(account('c'), cache.generation);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });

  it('shares frozen accounts, so no request can change another one', () => {
    const cache = new AccountCache(new FakeClock(), { ttl: 1000, max: 10 });
    const kept = cache.keep(account('a'), cache.generation);
    expect(Object.isFrozen(kept)).toBe(true);
    expect(() => {
      (kept as UserProfile).first_name = 'Eve';
    }).toThrow(TypeError);
  });
});
