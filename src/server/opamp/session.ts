/**
 * What this server process remembers about one agent it is talking to.
 * Lost on restart by design: the store has the truth, and a fresh session
 * asks the agent for full state when it cannot tell what it missed.
 */
import type { ServerToAgent } from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';

export type { Principal };

export type Transport = 'ws' | 'http';

export interface Session {
  agentId: string;
  instanceUid: Uint8Array;
  transport: Transport;
  principal: Principal;
  /** http(s)://host the agent reached (endpoint.ts); '' when unknown. */
  origin: string;
  /** WebSocket only: sends a message now. */
  send?: (msg: ServerToAgent) => void;
  /** WebSocket only: closes the connection. */
  close?: (code: number, reason: string) => void;
  /** Last sequence_num seen, null before the first message. */
  lastSeq: bigint | null;
  lastSeenAt: number;
  /** A heartbeat is waiting to be written to the store. */
  touchPending: boolean;
  /** Whether we believe the store has this agent online. */
  online: boolean;
  capabilities: bigint;
  /** Operator labels, cached to compute selectable attributes. */
  operatorLabels: Record<string, string>;
  /** Labels + description attributes, what selectors match. */
  attributes: Record<string, string>;
  /** Hash (hex) of the remote config last offered in this session; '' for none. */
  offeredConfigHash: string | null;
  /** Hash (hex) the agent last reported having. */
  reportedConfigHash: string | null;
  /** all_packages_hash (hex) of the packages offer last sent in this session; null for none. */
  offeredPackagesHash: string | null;
  /** server_provided_all_packages_hash (hex) the agent last reported. */
  reportedPackagesHash: string | null;
  capabilitiesSent: boolean;
  credentialOffered: boolean;
  /** Custom capabilities the agent handles (io.corral.*). */
  customCapabilities: string[];
  /** Last reported state of each service (health components), to record changes as events. */
  services: Record<string, string>;
  /** Enrolled but not approved yet: nothing is offered (config, packages, credential, custom requests). */
  pendingApproval?: boolean;
  /** Set when a newer connection took over, so closing this one changes nothing. */
  superseded: boolean;
}
