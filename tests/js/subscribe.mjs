// Subscribes to `offerChanged` over graphql-transport-ws with the graphql-ws client, prints
// "ready" once the subscription is acknowledged, then the first N events as JSON lines.
// Usage: node subscribe.mjs ws://host:port/graphql/ws N
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, count] = [process.argv[2], Number(process.argv[3] || 1)];
const client = createClient({ url, webSocketImpl: WebSocket, lazy: false });
let seen = 0;
const timer = setTimeout(() => { console.error('timeout'); process.exit(3); }, 30000);
client.on('connected', () => setTimeout(() => console.log('ready'), 300));
client.subscribe(
  { query: 'subscription { offerChanged { id version action catalogVersion } }' },
  {
    next: (value) => {
      console.log(JSON.stringify(value));
      seen += 1;
      if (seen >= count) { clearTimeout(timer); client.dispose(); process.exit(0); }
    },
    error: (e) => { console.error(JSON.stringify(e)); process.exit(1); },
    complete: () => {},
  },
);
