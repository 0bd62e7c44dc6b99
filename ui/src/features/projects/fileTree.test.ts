import { describe, expect, it } from "vitest";

import { buildTree, initiallyOpen, type TreeNode } from "./fileTree";

const names = <T,>(nodes: Array<TreeNode<T>>): string[] => nodes.map((node) => (node.kind === "folder" ? `${node.name}/ (${node.count})` : node.name));

describe("file tree", () => {
  it("nests files under their folders, folders first, each sorted by name", () => {
    const tree = buildTree([{ path: "src/server.py" }, { path: "README.md" }, { path: "docs/z.md" }, { path: "docs/a.md" }, { path: "docs/deep/x.md" }]);
    expect(names(tree)).toEqual(["docs/ (3)", "src/ (1)", "README.md"]);
    const docs = tree[0];
    if (docs?.kind !== "folder") throw new Error("a folder");
    expect(names(docs.children)).toEqual(["deep/ (1)", "a.md", "z.md"]);
    const deep = docs.children[0];
    expect(deep?.kind === "folder" && deep.children[0]?.path).toBe("docs/deep/x.md");
  });

  it("opens every folder of a small project and only the top of a big one", () => {
    const small = buildTree([{ path: "a/b/c.md" }]);
    expect([...initiallyOpen(small, 1)].sort()).toEqual(["a", "a/b"]);
    const big = buildTree(Array.from({ length: 100 }, (_, index) => ({ path: `a/b/${index}.md` })));
    expect([...initiallyOpen(big, 100)]).toEqual(["a"]);
  });
});
