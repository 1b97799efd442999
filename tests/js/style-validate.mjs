// Validates a MapLibre style file against the style specification and prints the errors as JSON.
import { readFileSync } from 'node:fs';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';

const style = JSON.parse(readFileSync(process.argv[2], 'utf8'));
console.log(JSON.stringify(validateStyleMin(style).map((e) => e.message)));
