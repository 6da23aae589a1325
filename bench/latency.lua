-- wrk reporter: after the run, one line the bench script reads.
-- "BENCH <requests/s> <p50 ms> <p95 ms> <p99 ms> <errors>"; errors counts failed
-- connections, reads, writes, timeouts and answers that were not 2xx/3xx.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH %.1f %.2f %.2f %.2f %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status
  ))
end
