/** netwarden's own version, from package.json (imported, so a bundle carries it inline). */
import pkg from '../package.json' with { type: 'json' };

/** The version string of this build. */
export const VERSION: string = pkg.version;
