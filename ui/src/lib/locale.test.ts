import { describe, expect, it } from "vitest";

import { validLanguage } from "./locale";

describe("the window's language", () => {
  it("accepts real language tags and refuses the POSIX locale WebKit reports for LANG=C", () => {
    expect(validLanguage("en-US")).toBe(true);
    expect(validLanguage("fr")).toBe(true);
    // Positive control: the tag that blanked the window is caught.
    expect(() => new Intl.NumberFormat("C")).toThrow(RangeError);
    expect(validLanguage("C")).toBe(false);
    expect(validLanguage(undefined)).toBe(false);
  });
});
