/**
 * The layer rules of modl, checked by `npm run lint:deps` (part of `npm test`).
 * Floors, lowest first: a module may import its own floor and the ones below,
 * never one above, and no import circle is allowed (dynamic imports included).
 */
const FLOORS = ['util', 'backend', 'physics', 'io', 'images', 'synth', 'nn', 'generative', 'study', 'pipelines', 'cli'];
const path = (floor) => (floor === 'pipelines' ? '^pipelines/' : `^src/${floor}/`);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    ...FLOORS.slice(0, -1).map((floor, i) => ({
      name: `${floor}-imports-downward-only`,
      comment: `${floor} may import only ${FLOORS.slice(0, i + 1).join(', ')}`,
      severity: 'error',
      from: { path: path(floor) },
      to: { path: FLOORS.slice(i + 1).map(path) },
    })),
    {
      name: 'nothing-imports-the-package-root',
      comment: 'src/index.ts is the public API: it sits above everything',
      severity: 'error',
      from: { pathNot: '^src/index\\.ts$' },
      to: { path: '^src/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count too: a circle of types is still a circle to read
    tsPreCompilationDeps: true,
  },
};
