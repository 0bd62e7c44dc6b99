// A signed-in session of the tests: an executor in `team` narrowed to
// viewer on `draft`, a creator in `other`.
export const session = {
  server: "http://127.0.0.1:7420",
  account: "eve",
  memberships: [
    { workspace: "team", flow: null, role: "executor", permissions: ["view", "run", "approve"] },
    { workspace: "team", flow: "draft", role: "viewer", permissions: ["view"] },
    { workspace: "other", flow: null, role: "creator", permissions: ["view", "run", "approve", "edit"] },
  ],
};
