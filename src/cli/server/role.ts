/**
 * `<command> --server` entries. The server role parses its own options (memfs root, agents, ...), so it gets every
 * argument but --server. Imported only then, so client commands (and hooks) pay nothing for the server code.
 */
const ENTRIES = {
  init: async () => (await import('./init.js')).initServer,
  status: async () => (await import('./status.js')).serverStatus,
  uninstall: async () => (await import('./uninstall.js')).uninstallServer,
};

export async function runServerRole(command: keyof typeof ENTRIES, argv: string[]): Promise<number> {
  const entry = await ENTRIES[command]();
  return entry({ argv: argv.filter((a) => a !== '--server') });
}
