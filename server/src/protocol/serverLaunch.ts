// How a client starts the language server process: the VS Code client and the test client both use
// these flags, so tests and benchmarks measure the server as users run it.

/**
 * V8 heap flags of the server process (its worker threads inherit them). The server's live data is
 * small (about 20 MB of objects in the main thread with 1,000 documents open, plus the parser's and
 * SQLite's wasm memories), but it allocates in bursts: documents opened by the hundred, tensors
 * decoded in a worker. With V8's defaults each of its three isolates lets garbage reach four times
 * its live size before a full collection and keeps 16 MB semi-spaces: bench:soak peaked at 425 MB.
 * A 1 MB semi-space and a growth factor of 2 bring it to about 240 MB at the same latencies.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=100'];
