// The project's indexed files as a folder tree: folders first, then files,
// each by name; a folder's file count for its label. Pure.
export interface TreeFile<T> {
  kind: "file";
  name: string;
  path: string;
  file: T;
}

export interface TreeFolder<T> {
  kind: "folder";
  name: string;
  path: string;
  children: Array<TreeNode<T>>;
  /** Files anywhere below. */
  count: number;
}

export type TreeNode<T> = TreeFile<T> | TreeFolder<T>;

export function buildTree<T extends { path: string }>(files: T[]): Array<TreeNode<T>> {
  const root: TreeFolder<T> = { kind: "folder", name: "", path: "", children: [], count: 0 };
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    let folder = root;
    folder.count += 1;
    for (const [index, part] of parts.slice(0, -1).entries()) {
      const path = parts.slice(0, index + 1).join("/");
      let next = folder.children.find((child): child is TreeFolder<T> => child.kind === "folder" && child.name === part);
      if (!next) {
        next = { kind: "folder", name: part, path, children: [], count: 0 };
        folder.children.push(next);
      }
      next.count += 1;
      folder = next;
    }
    folder.children.push({ kind: "file", name: parts.at(-1) ?? file.path, path: file.path, file });
  }
  const sort = (nodes: Array<TreeNode<T>>) => {
    nodes.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "folder" ? -1 : 1));
    for (const node of nodes) if (node.kind === "folder") sort(node.children);
  };
  sort(root.children);
  return root.children;
}

/** Folders open at first: all of a small project, the top level of a big one. */
export function initiallyOpen<T>(nodes: Array<TreeNode<T>>, total: number): Set<string> {
  const open = new Set<string>();
  const walk = (list: Array<TreeNode<T>>, depth: number) => {
    for (const node of list) {
      if (node.kind !== "folder") continue;
      if (total <= 60 || depth === 0) open.add(node.path);
      walk(node.children, depth + 1);
    }
  };
  walk(nodes, 0);
  return open;
}
