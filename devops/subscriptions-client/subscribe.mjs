// A real graphql-ws client (the graphql-transport-ws protocol) against Rendezvous' WebSocket:
// subscribes, and prints one JSON line per event on stdout, for the live tests and the
// benchmark to read.
//
//   node subscribe.mjs URL QUERY VARIABLES_JSON [TOKEN]
//
// Lines: {"event":"connected"} at each (re)connection, {"event":"next","data":...,"at":ms}
// for each result (at: Date.now() when it arrived), {"event":"error","errors":[...]},
// {"event":"closed","code":...,"reason":"..."}, {"event":"complete"}. It retries a lost
// connection (re-subscribing, as graphql-ws does) until the process is killed.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, query, variables = "{}", token = ""] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  retryAttempts: Infinity,
  retryWait: async () => new Promise((resolve) => setTimeout(resolve, 300)),
  shouldRetry: () => true,
  on: {
    connected: () => print({ event: "connected" }),
    closed: (event) => print({ event: "closed", code: event.code, reason: event.reason }),
  },
});

client.subscribe(
  { query, variables: JSON.parse(variables) },
  {
    next: (result) =>
      result.errors
        ? print({ event: "error", errors: result.errors })
        : print({ event: "next", data: result.data, at: Date.now() }),
    error: (error) =>
      print({ event: "error", errors: Array.isArray(error) ? error : [String(error)] }),
    complete: () => print({ event: "complete" }),
  },
);
