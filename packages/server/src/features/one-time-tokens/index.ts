export { claimSendSlot } from './cooldowns.js';
export { type Channel, type IssueInput, OneTimeTokens, type RedeemResult } from './service.js';
