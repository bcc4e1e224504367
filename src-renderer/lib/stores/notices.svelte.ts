/** Messages for the user: errors as sentences (never a stack), confirmations, at most a few at once. */
import type { ErrorData } from '../api-types.ts';

export interface Notice {
  id: number;
  tone: 'error' | 'info';
  text: string;
}

const MAX_NOTICES = 4;

export class Notices {
  items = $state<Notice[]>([]);
  #next = 1;

  info(text: string): void {
    this.#push('info', text);
  }

  /** Shows an api error; cancellation is not an error and shows nothing. */
  error(err: unknown): void {
    const data = err as Partial<ErrorData>;
    if (data?.kind === 'cancelled') return;
    const text =
      typeof data?.message === 'string'
        ? data.message
        : 'Something went wrong in the page. Reload it and try again.';
    this.#push('error', text);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((n) => n.id !== id);
  }

  #push(tone: Notice['tone'], text: string): void {
    const notice = { id: this.#next++, tone, text };
    this.items = [...this.items, notice].slice(-MAX_NOTICES);
    if (tone === 'info') setTimeout(() => this.dismiss(notice.id), 5000);
  }
}
