// WebKitGTK reports the POSIX locale of `LANG=C.UTF-8` (common in containers
// and minimal installs) as navigator.language "C", a tag no Intl API accepts:
// a library that formats with it (uPlot does, when it loads) throws and the
// window stays blank. Such a window reads as US English instead. Imported
// first by main.tsx, before any module that formats.

/** Whether `tag` is a language tag Intl accepts. */
export function validLanguage(tag: string | undefined): boolean {
  if (!tag) return false;
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}

if (typeof navigator !== "undefined" && !validLanguage(navigator.language)) {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
  Object.defineProperty(navigator, "languages", { value: ["en-US"], configurable: true });
}
