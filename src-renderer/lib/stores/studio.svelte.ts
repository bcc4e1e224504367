/**
 * The renderer's view of the api: calls that throw error data (so views can
 * `try`/`catch` one sentence), the list of methods this studio offers, the
 * connection state, and a fan-out of api events to the stores that want them.
 */
import type { ApiEvent, ErrorData, StudioInfo } from '../api-types.ts';
import type { ConnectionState, StudioClient } from '../client/index.ts';
import { Notices } from './notices.svelte.ts';

let requestCounter = 0;
/** Request ids let the host cancel a call and let stores drop stale replies. */
export function newRequestId(prefix = 'r'): string {
  requestCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${requestCounter}`;
}

export class Studio {
  readonly client: StudioClient;
  readonly notices = new Notices();
  info = $state<StudioInfo | null>(null);
  connection = $state<ConnectionState>('connecting');
  #methods = $state<Set<string>>(new Set());

  constructor(client: StudioClient) {
    this.client = client;
    client.onConnection((state) => {
      const reconnected = this.connection === 'closed' && state === 'open';
      this.connection = state;
      if (reconnected) void this.load();
    });
  }

  async load(): Promise<void> {
    try {
      const info = await this.call<StudioInfo>('studio.info', {});
      this.info = info;
      this.#methods = new Set(info.methods.map((m) => m.name));
    } catch (err) {
      this.notices.error(err);
    }
  }

  /** True when the host offers this api method. */
  has(method: string): boolean {
    return this.#methods.has(method);
  }

  /** Calls a method; throws its error data (`{ kind, code, message }`) on failure. */
  async call<T>(method: string, input: unknown = {}, requestId?: string): Promise<T> {
    const reply = await this.client.call<T>(method, input, requestId);
    if (!reply.ok) throw reply.error satisfies ErrorData;
    return reply.result;
  }

  onEvent(listener: (event: ApiEvent) => void): () => void {
    return this.client.onEvent(listener);
  }
}
