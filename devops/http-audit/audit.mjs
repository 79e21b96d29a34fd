// Runs graphql-http's GraphQL-over-HTTP audit suite against a live server and prints one line
// per audit (ok / warn / error) and a JSON summary as the last line. Exit status 1 when a MUST
// audit fails. Usage: node audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const detail = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${result.status.padEnd(5)} ${result.id} ${result.name}${detail}`);
}
console.log(JSON.stringify({ ...counts, failed: results.filter((r) => r.status !== 'ok').map((r) => r.id) }));
process.exit(counts.error ? 1 : 0);
