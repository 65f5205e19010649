// The console's globals: uPlot, loaded by a classic script from hosting/vendor (its types are
// the package's, pinned in package.json).
import type uPlot from "uplot";

declare global {
  interface Window {
    uPlot: typeof uPlot;
  }
}
