// The progress of a long command on stderr: a bar when stderr is a terminal; otherwise nothing while it runs and one
// plain line at the end, so that CI logs and pipes get no escape codes.
import cliProgress from 'cli-progress';

/** Where the progress goes: process.stderr, or a test's stand-in (a Writable with `isTTY`, `columns`). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface Progress {
  /** Work done so far and, when known, the total (it may be given later, or grow). */
  update(done: number, total?: number): void;
  /** Ends the bar; without a terminal, writes the final line (not after a failure, `ok` false, nor without any progress). */
  stop(ok?: boolean): void;
}

/** A reporter for one run: `label` names the command (`audit verify`), `unit` what is counted (`entries`). */
export function progressReporter(label: string, unit: string, stream: ProgressStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  let total: number | undefined;
  let stopped = false;
  let updated = false;
  return {
    update(d, t) {
      updated = true;
      done = d;
      if (t !== undefined) total = t;
      if (!tty || stopped) return;
      if (!bar) {
        // A total known from the start gets a bar with a percentage and an estimate; otherwise a running count.
        const format = total === undefined ? `${label} | {value} ${unit}` : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {eta_formatted} left`;
        bar = new cliProgress.SingleBar({ format, stream, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(total ?? 0, done);
        return;
      }
      if (t !== undefined) bar.setTotal(t);
      bar.update(done);
    },
    stop(ok = true) {
      if (stopped) return;
      stopped = true;
      if (bar) bar.stop();
      else if (!tty && ok && updated) stream.write(`${label}: ${done}${total === undefined ? '' : ` of ${total}`} ${unit}\n`);
    },
  };
}
