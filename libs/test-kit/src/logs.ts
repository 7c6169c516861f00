import { Writable } from "node:stream";

/** A log destination that keeps every line, so a test can assert on what was (not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  constructor(private readonly echo = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    const text = chunk.toString();
    for (const line of text.split("\n")) if (line) this.lines.push(line);
    if (this.echo) process.stdout.write(text);
    cb();
  }
  text(): string {
    return this.lines.join("\n");
  }
}
