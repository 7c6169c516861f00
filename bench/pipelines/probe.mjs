// Loaded into every process of a bench run (`node --import <this file>`): once a second it writes
// one line to stderr with the event-loop delay seen since the last line (perf_hooks'
// monitorEventLoopDelay, the same measure as prom-client's nodejs_eventloop_lag_*) and the
// resident set size. The bench reads these lines; the process itself is not changed otherwise.
// The histogram records the whole interval between two samples, so the sampling interval itself is
// taken off: an idle loop reads 0, not 10 ms.
import { monitorEventLoopDelay } from "node:perf_hooks";

const RESOLUTION_MS = 10;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();
const ms = (ns) => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
setInterval(() => {
  const line = {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    rss: process.memoryUsage.rss(),
  };
  histogram.reset();
  process.stderr.write(`bench-probe ${JSON.stringify(line)}\n`);
}, 1000).unref();
