/** A progress line on stderr while a command waits. */
export interface Progress {
  /** `state` is what changed (a status, a count); `text` the whole line (it may carry a clock). */
  update(state: string, text: string): void;
  /** Ends the line (on a terminal) so what follows starts on a line of its own. */
  done(): void;
}

/**
 * On a terminal, one line rewritten in place at each update; otherwise (a script, a CI log) a line
 * per change of state, so a log shows each step once instead of one line per poll.
 */
export function progressLine(write: (text: string) => void, tty: boolean): Progress {
  let last: string | undefined;
  let open = false;
  return {
    update(state, text) {
      if (tty) {
        write(`\r\x1b[2K${text}`);
        open = true;
      } else if (state !== last) write(`${text}\n`);
      last = state;
    },
    done() {
      if (open) write('\n');
      open = false;
    },
  };
}
