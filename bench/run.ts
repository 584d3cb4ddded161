/**
 * `npm run bench [name ...]`: runs the benchmarks and prints their numbers.
 * Each benchmark is a module under bench/ whose default export prints a table.
 */
const benches: Record<string, () => Promise<{ default: () => Promise<void> }>> = {
  physics: () => import('./physics.js'),
  modl: () => import('./modl.js'),
  io: () => import('./io.js'),
  synth: () => import('./synth.js'),
  espirit: () => import('./espirit.js'),
  backend: () => import('./backend.js'),
  generative: () => import('./generative.js'),
  real: () => import('./real-kspace.js'),
  queue: () => import('./queue.js'),
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const load = benches[name];
  if (!load) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== bench: ${name} ===`);
  await (await load()).default();
}
