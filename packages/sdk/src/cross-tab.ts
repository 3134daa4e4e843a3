import type { StoredTokens } from './storage.js';

/**
 * What tabs of one origin tell each other about the session they share. A tab announces a refresh (`refreshing`),
 * then its outcome: new tokens (`rotated`), the end of the session (`signed-out`), or neither (`settled`: the call
 * failed for a moment, or the answer was stale), so that a tab waiting for the outcome stops waiting.
 */
export type TabMessage =
  | { type: 'refreshing' }
  | { type: 'rotated'; previous: string | null; tokens: StoredTokens }
  | { type: 'signed-out'; previous: string | null }
  | { type: 'settled' };

/** The part of the Web Locks API (`navigator.locks`) used here. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** How long a tab waits for another tab's refresh before doing its own (the server's grace window is 10 s). */
const PEER_WAIT = 5_000;

/**
 * Coordinates refreshes between the tabs of one origin. With Web Locks, refreshes run one at a time across tabs:
 * the tab that waited finds the rotated token (in shared storage or from the broadcast) and makes no call. A
 * browser may hand the lock over before the other tab's localStorage write and broadcast have reached this tab
 * (Chromium delivers both asynchronously, in separate processes), so a tab that heard a refresh announced waits
 * for its outcome before looking. Without locks, a tab that hears another announce a refresh waits for its result
 * likewise; if two start at once anyway, the server's reuse grace window gives both the same successor, so nobody
 * is signed out.
 */
export class TabCoordinator {
  private readonly channel: ChannelLike;
  private peerRefresh: { until: number; done: Promise<void>; settle(): void } | null = null;

  constructor(
    private readonly name: string,
    private readonly locks: LockManagerLike | null,
    private readonly onMessage: (message: TabMessage) => void,
    private readonly now: () => number,
  ) {
    this.channel = new BroadcastChannel(name) as ChannelLike;
    // Node's BroadcastChannel would otherwise keep the process alive.
    (this.channel as { unref?(): void }).unref?.();
    this.channel.onmessage = (event) => this.receive(event.data as TabMessage);
  }

  post(message: TabMessage): void {
    this.channel.postMessage(message);
  }

  /** Runs `task` alone across tabs (Web Locks), or after a refresh another tab announced has finished. */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.locks) {
      return this.locks.request(`${this.name}:refresh`, async () => {
        await this.peerOutcome();
        return task();
      });
    }
    await this.peerOutcome();
    return task();
  }

  close(): void {
    this.peerRefresh?.settle();
    this.channel.onmessage = null;
    this.channel.close();
  }

  /** Waits (at most PEER_WAIT) for the outcome of a refresh another tab announced, if one is pending. */
  private async peerOutcome(): Promise<void> {
    const peer = this.peerRefresh;
    if (!peer || peer.until <= this.now()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([peer.done, new Promise((resolve) => (timer = setTimeout(resolve, PEER_WAIT)))]);
    clearTimeout(timer);
  }

  private receive(message: TabMessage): void {
    if (message.type === 'refreshing') {
      let settle = () => {};
      const done = new Promise<void>((resolve) => {
        settle = resolve;
      });
      this.peerRefresh?.settle();
      this.peerRefresh = { until: this.now() + PEER_WAIT, done, settle };
      return;
    }
    this.peerRefresh?.settle();
    this.peerRefresh = null;
    if (message.type !== 'settled') this.onMessage(message);
  }
}
