// End-to-end test of the real desktop app: tauri-driver drives the WebKit
// window under Xvfb. scripts/e2e.sh starts Xvfb and tauri-driver and sets
// CODEXOS_APP (the binary), CODEXOS_HOME (a fresh data home) and
// CODEXOS_FIXTURE (a folder to ingest).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";

import { remote } from "webdriverio";

const app = process.env.CODEXOS_APP;
const fixture = process.env.CODEXOS_FIXTURE;
const shots = process.env.CODEXOS_E2E_OUT;
const secret = process.env.CODEXOS_E2E_SECRET ?? "e2e-secret-value-42";

let browser;

before(async () => {
  assert.ok(app && fixture, "run through scripts/e2e.sh (CODEXOS_APP and CODEXOS_FIXTURE unset)");
  browser = await remote({
    hostname: "127.0.0.1",
    port: Number(process.env.CODEXOS_DRIVER_PORT ?? 4444),
    logLevel: "warn",
    capabilities: {
      "tauri:options": { application: app },
      "wdio:enforceWebDriverClassic": true,
    },
  });
});

after(async () => {
  await browser?.deleteSession();
});

async function screenshot(name) {
  if (shots) await browser.saveScreenshot(`${shots}/${name}.png`);
}

/** Selects a canvas node as a click would, wherever the view has scrolled it
 * (under the zoom controls or outside a narrow canvas). */
async function selectNode(selector) {
  const node = await browser.$(selector);
  await node.waitForExist({ timeout: 10_000 });
  await browser.execute((element) => {
    // Leave any field first, as a real click does (the canvas's keys ignore fields).
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    element.closest(".react-flow__node").click();
  }, node);
}

/** Sets a controlled input or textarea as typing would (React listens to
 * input events), then leaves it (forms commit on blur). */
async function fill(element, value) {
  await browser.execute(
    (target, text) => {
      const prototype = target instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(prototype, "value").set.call(target, text);
      target.dispatchEvent(new Event("input", { bubbles: true }));
      target.dispatchEvent(new FocusEvent("focusout", { bubbles: true }));
    },
    element,
    value,
  );
}

test("the window shows the default flow and the panels", async () => {
  const canvas = await browser.$('[data-testid="flow-canvas"]');
  await canvas.waitForDisplayed({ timeout: 30_000 });
  // React Flow shows nodes once it has measured them; a cold WebKit on a busy
  // two-core machine can take a while for the first layout.
  try {
    for (const kind of ["input", "retrieve", "llm", "output"]) {
      await browser.$(`[data-testid="flow-node-${kind}"]`).waitForDisplayed({ timeout: 30_000 });
    }
  } catch (error) {
    await screenshot("started-failed");
    const notice = await browser.$('[data-testid="flow-notice"]');
    if (await notice.isExisting()) error.message += ` (the canvas says: ${await notice.getText()})`;
    throw error;
  }
  await screenshot("started");
  assert.ok(await browser.$('[data-testid="chat-input"]').isDisplayed());
});

test("a folder is ingested with visible progress, then a question is answered with citations", async () => {
  await browser.$('[data-testid="ingest-path"]').setValue(fixture);
  await browser.$('[data-testid="ingest-button"]').click();
  const status = await browser.$('[data-testid="ingest-status"]');
  await status.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await status.getAttribute("data-status")) !== "running", {
    timeout: 120_000,
    timeoutMsg: "ingest did not finish",
  });
  assert.equal(await status.getAttribute("data-status"), "done", await status.getText());
  const report = await browser.$('[data-testid="ingest-report"]').getText();
  assert.match(report, /5 indexed/);
  // A long job says when it ends, wherever the user is looking.
  const toast = await browser.$('[data-testid="toast"]');
  await toast.waitForDisplayed({ timeout: 5_000 });
  assert.match(await toast.getText(), /Ingested lumen-docs/);
  assert.equal(await toast.getAttribute("data-kind"), "done");
  await browser.$('[data-testid="project"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="watch-state"]').waitForDisplayed({ timeout: 10_000 });
  // The project's files as a folder tree: folders open and close.
  await browser.$('[data-testid="project"]').click();
  const docsFolder = await browser.$('[data-testid="project-folder"][data-path="docs"]');
  await docsFolder.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await docsFolder.getAttribute("aria-expanded"), "true");
  const configuration = '[data-testid="project-file"][data-path="docs/configuration.md"]';
  assert.ok(await browser.$(configuration).isDisplayed(), "a file inside the open folder is listed");
  await screenshot("ingested");
  await docsFolder.click();
  assert.equal(await browser.$(configuration).isExisting(), false, "a closed folder hides its files");
  await docsFolder.click();
  assert.ok(await browser.$(configuration).isDisplayed());
  await browser.$("button=All projects").click();

  // The dropped folder is watched: a new file shows up in the project's counts.
  await writeFile(join(fixture, "docs", "faq.md"), "# FAQ\n\nLumen supports Windows, macOS and Linux.\n");
  const project = await browser.$('[data-testid="project"]');
  await browser.waitUntil(async () => (await project.getText()).includes("6 files"), {
    timeout: 30_000,
    timeoutMsg: "the watched folder's new file was not indexed",
  });

  await browser.$('[data-testid="chat-input"]').setValue("What is the default port of the Lumen server?");
  await browser.$('[data-testid="ask-button"]').click();
  const answer = await browser.$('[data-testid="answer"]');
  await answer.waitForExist({ timeout: 10_000 });
  await browser.waitUntil(async () => ["done", "error"].includes(await answer.getAttribute("data-phase")), {
    timeout: 120_000,
    timeoutMsg: "no answer",
  });
  await screenshot("answered");
  assert.equal(await answer.getAttribute("data-phase"), "done", await answer.getText());
  const text = await browser.$('[data-testid="answer-text"]').getText();
  assert.ok(text.trim().length > 0, "answer text is shown");
  const citations = await browser.$$('[data-testid="citation"]');
  assert.ok(citations.length > 0, "citations are shown");
  assert.match(await citations[0].getText(), /\[1\] [\w./-]+:\d+-\d+/);

  // A citation opens the cited file with its lines highlighted.
  await citations[0].click();
  const preview = await browser.$('[data-testid="file-preview"]');
  await preview.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await preview.getText()).includes("The default port is 8420"), {
    timeout: 10_000,
    timeoutMsg: "the cited file's text was not shown",
  });
  await browser.pause(500);
  await screenshot("preview");
});

test("search finds text under its filters, marks the words and opens the file at the lines", async () => {
  // The file preview opened above lies over the canvas.
  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  await screenshot("before-search");
  await browser.$('[data-testid="open-search"]').click();
  const query = await browser.$('[data-testid="search-query"]');
  await query.waitForDisplayed({ timeout: 10_000 });
  await query.setValue("default port");
  await browser.$('[data-testid="search-path"]').setValue("*.md");
  await browser.$('[data-testid="search-button"]').click();
  await browser.$('[data-testid="search-count"]').waitForDisplayed({ timeout: 30_000 });
  const paths = async () => {
    const found = [];
    for (const hit of await browser.$$('[data-testid="search-hit"]')) found.push(await hit.getAttribute("data-path"));
    return found;
  };
  const markdown = await paths();
  // It ran and found the answer (the control), and kept to the glob.
  assert.ok(markdown.includes("docs/configuration.md"), markdown.join(", "));
  for (const path of markdown) assert.match(path, /\.md$/);
  const marks = await browser.$$('[data-testid="search-results"] mark');
  assert.ok(marks.length > 0, "the query's words are marked");
  await screenshot("search");

  // Filters that exclude every chunk say so.
  await browser.$('[data-testid="search-kind"]').selectByAttribute("value", "code");
  await browser.$('[data-testid="search-button"]').click();
  await browser.$('[data-testid="search-empty"]').waitForDisplayed({ timeout: 30_000 });

  // Code under src/ only; a result opens the preview at its lines.
  await browser.$('[data-testid="search-path"]').setValue("src/*");
  await browser.$('[data-testid="search-button"]').click();
  await browser.$('[data-testid="search-count"]').waitForDisplayed({ timeout: 30_000 });
  const code = await paths();
  assert.ok(code.length > 0 && code.every((path) => path.startsWith("src/")), code.join(", "));
  await browser.$('[data-testid="search-hit"]').click();
  const preview = await browser.$('[data-testid="file-preview"]');
  await preview.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await preview.getText()).includes("DEFAULT_PORT"), {
    timeout: 10_000,
    timeoutMsg: "the file of the result was not shown",
  });
  assert.match(await preview.getText(), /server\.py/);
  await screenshot("search-preview");
  await browser.$('[data-testid="file-preview"] button[aria-label="Close preview"]').click();
  await browser.$('[data-testid="close-search"]').click();
  await browser.$('[data-testid="search-panel"]').waitForExist({ reverse: true, timeout: 10_000 });
});

test("settings list the provider policy and the models, and the chat offers them", async () => {
  const picker = await browser.$('[data-testid="model-picker"]');
  await picker.waitForDisplayed({ timeout: 10_000 });
  assert.match(await picker.getText(), /Policy \(local\)/);
  await browser.$('[data-testid="open-settings"]').click();
  const settings = await browser.$('[data-testid="settings"]');
  await settings.waitForDisplayed({ timeout: 10_000 });
  const row = await browser.$('[data-testid="provider-row"]');
  await row.waitForDisplayed({ timeout: 10_000 });
  assert.match(await row.getText(), /local/);
  // The answer given above went through the router and was recorded.
  await browser.waitUntil(async () => (await browser.$('[data-testid="attempts"]').getText()).includes("ok"), {
    timeout: 10_000,
    timeoutMsg: "the recent attempts do not show the answer",
  });
  await browser.$("button=models").click();
  const models = await browser.$('[data-testid="model-list"]');
  await models.waitForDisplayed({ timeout: 10_000 });
  await screenshot("settings");
  // (Truncating elements hide their text from WebDriver's getText; the title carries the name.)
  assert.ok(await browser.$('[data-testid="model-list"] [title="SmolLM2-135M-Instruct.Q4_1.gguf"]').isDisplayed());
  await browser.$('button[aria-label="Close settings"]').click();
});

/** Sends a chat message and waits for its answer to end; returns the answer element. */
/** Sends a chat message; answers how many answers there were before it. */
async function submitChat(text) {
  const before = (await browser.$$('[data-testid="answer"]')).length;
  await fill(await browser.$('[data-testid="chat-input"]'), text);
  await browser.$('[data-testid="ask-button"]').click();
  return before;
}

/** Waits for the answer after the `before`th to end (however it ends); returns it. */
async function endedAnswer(before, what, timeout = 180_000) {
  let answer;
  await browser.waitUntil(
    async () => {
      const answers = await browser.$$('[data-testid="answer"]');
      answer = answers[answers.length - 1];
      return answers.length > before && ["done", "error", "cancelled"].includes(await answer.getAttribute("data-phase"));
    },
    { timeout, timeoutMsg: `no answer to ${what}` },
  );
  return answer;
}

/** Sends a chat message and waits for its answer to end; returns the answer element. */
async function sendChat(text) {
  const answer = await endedAnswer(await submitChat(text), `“${text}”`);
  assert.equal(await answer.getAttribute("data-phase"), "done", await answer.getText());
  return answer;
}

async function answerCount() {
  return (await browser.$$('[data-testid="answer"]')).length;
}

test("chat keeps saved conversations in three modes: ask with citations, chat, and an agent whose answers are runs", async () => {
  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  // Ask mode: the conversation the first question started goes on for two more turns.
  await sendChat("How do I change it?");
  const third = await sendChat("Which file says so?");
  assert.equal(await answerCount(), 3);
  assert.ok((await third.$$('[data-testid="citation"]')).length > 0, "each ask answer cites");
  // The local model reuses the conversation's state between turns: at least
  // the whole prompt of the turn before.
  const tokens = async (answer) => {
    const stats = await answer.$('[data-testid="answer-stats"]').getText();
    const [, prompt, reused] = stats.match(/(\d+)\+\d+ tokens(?: · (\d+) reused)?/) ?? [];
    return { prompt: Number(prompt ?? 0), reused: Number(reused ?? 0) };
  };
  const second = (await browser.$$('[data-testid="answer"]'))[1];
  // Positive control: the footer was read (a parse that found nothing would compare 0 with 0).
  assert.ok((await tokens(second)).prompt > 0 && (await tokens(third)).reused > 0, await third.getText());
  assert.ok((await tokens(third)).reused >= (await tokens(second)).prompt, `${await second.getText()}\n---\n${await third.getText()}`);
  assert.equal(await browser.$('[data-testid="conversation-title"]').getAttribute("title"), "What is the default port of the Lumen server?");
  // Regenerate the last answer: still three answers.
  const before = (await browser.$$('[data-testid="answer"]'))[2].elementId;
  await browser.$('[data-testid="regenerate"]').click();
  await browser.waitUntil(
    async () => {
      const third = (await browser.$$('[data-testid="answer"]'))[2];
      return third && third.elementId !== before && (await third.getAttribute("data-phase")) === "done";
    },
    { timeout: 180_000, timeoutMsg: "the answer was not regenerated" },
  );
  assert.equal(await answerCount(), 3);
  // Edit the second question and resend: the third exchange goes.
  const edits = await browser.$$('[data-testid="edit-question"]');
  await edits[1].click();
  await fill(await browser.$('[data-testid="edit-input"]'), "Which port does Lumen use by default?");
  await browser.$('[data-testid="edit-resend"]').click();
  await browser.waitUntil(async () => (await answerCount()) === 2 && (await (await browser.$$('[data-testid="answer"]'))[1].getAttribute("data-phase")) === "done", { timeout: 180_000, timeoutMsg: "the edited question was not answered" });
  await screenshot("chat-ask");
  // Each answer is kept as a run: its trace opens in the run inspector, with
  // what the model was sent; an ask is not replayed or resumed.
  await (await browser.$$('[data-testid="answer"]'))[1].$('[data-testid="answer-trace"]').click();
  const inspector = await browser.$('[data-testid="run-inspector"]');
  await inspector.waitForDisplayed({ timeout: 10_000 });
  const exchange = await inspector.$('[data-testid="run-exchange"]');
  await exchange.waitForDisplayed({ timeout: 10_000 });
  assert.match(await exchange.getText(), /An ask, kept for its trace/);
  assert.equal(await inspector.$('[data-testid="run-replay"]').isExisting(), false, "an ask is not replayed");
  await inspector.$('[data-testid="inspector-pick-retrieve"]').waitForDisplayed({ timeout: 10_000 });
  await inspector.$('[data-testid="inspector-pick-answer"]').click();
  // The model call's prompt (shown for model calls only): the question with its excerpts.
  const prompt = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="run-inspector"] [data-testid="inspector-prompt"]')].map((message) => message.textContent).join("\n"));
  await browser.waitUntil(async () => /Which port does Lumen use by default\?/.test(await prompt()) && /Context excerpts/.test(await prompt()), { timeout: 10_000, timeoutMsg: `the answer's prompt is not shown: ${await inspector.getText()}` });
  await screenshot("chat-ask-trace");
  await browser.$('button[aria-label="Close run inspector"]').click();

  // Chat mode: a plain conversation, three turns.
  await browser.$('[data-testid="mode-chat"]').click();
  assert.equal(await answerCount(), 0, "a new conversation starts empty");
  await sendChat("What is the capital of France?");
  await sendChat("And of Italy?");
  const last = await sendChat("Name both cities again.");
  assert.equal(await answerCount(), 3);
  assert.equal((await last.$$('[data-testid="citation"]')).length, 0, "plain chat has no excerpts");
  await screenshot("chat-plain");

  // Agent mode: the example planner, its tool calls shown inline.
  await browser.$('[data-testid="mode-agent"]').click();
  const picker = await browser.$('[data-testid="agent-picker"]');
  await picker.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => /planner/.test(await picker.getText()), { timeout: 10_000, timeoutMsg: "the published example agents are not offered" });
  await picker.selectByAttribute("value", "planner");
  const plan = await sendChat("Plan how to add a README to a project.");
  await sendChat("Make the plan shorter.");
  await sendChat("Now number the steps from one.");
  assert.equal(await answerCount(), 3);
  assert.match(await browser.$('[data-testid="chat-scope"]').getText(), /Agent planner@1\.0\.0/);
  assert.match(await plan.getText(), /trace [0-9a-f]{8}/, "an agent answer is a run");
  await screenshot("chat-agent");

  // The history: search finds the chat by a message, rename, open, export, delete.
  await browser.$('[data-testid="conversations-toggle"]').click();
  const list = await browser.$('[data-testid="conversation-list"]');
  await list.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="conversation-item"]')).length === 3, { timeout: 10_000, timeoutMsg: "three conversations are not listed" });
  await fill(await browser.$('[data-testid="conversation-search"]'), "of italy");
  await browser.waitUntil(async () => (await browser.$$('[data-testid="conversation-item"]')).length === 1, { timeout: 10_000, timeoutMsg: "the search did not narrow the list" });
  assert.match(await browser.$('[data-testid="conversation-snippet"]').getAttribute("title"), /Italy/);
  await browser.$('[data-testid="conversation-rename"]').click();
  await fill(await browser.$('[data-testid="conversation-rename-input"]'), "Capitals");
  await browser.$('[data-testid="conversation-rename-save"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="conversation-item"]').getAttribute("data-title")) === "Capitals", { timeout: 10_000, timeoutMsg: "the rename did not show" });
  await screenshot("chat-history");
  await browser.$('[data-testid="conversation-open"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="conversation-title"]').getAttribute("title")) === "Capitals", { timeout: 10_000, timeoutMsg: "the conversation did not open" });
  assert.equal(await answerCount(), 3, "the saved conversation opens with its messages");
  await browser.$('[data-testid="conversation-export"]').click();
  const notice = await browser.$('[data-testid="chat-notice"]');
  await notice.waitForDisplayed({ timeout: 10_000 });
  const saved = (await notice.getText()).match(/Saved to (\S+\.md)/);
  assert.ok(saved, await notice.getText());
  const markdown = await readFile(saved[1], "utf8");
  assert.ok(markdown.startsWith("# Capitals\n") && markdown.includes("## You\n\nAnd of Italy?"), markdown);
  await browser.$('[data-testid="conversations-toggle"]').click();
  await browser.waitUntil(async () => (await browser.$$('[data-testid="conversation-item"]')).length === 3, { timeout: 10_000, timeoutMsg: "the list did not come back" });
  let capitals;
  for (const item of await browser.$$('[data-testid="conversation-item"]')) {
    if ((await item.getAttribute("data-title")) === "Capitals") capitals = item;
  }
  assert.ok(capitals, "the renamed conversation is listed");
  await capitals.$('[data-testid="conversation-delete"]').click();
  await capitals.$('[data-testid="conversation-delete-confirm"]').click();
  await browser.waitUntil(async () => (await browser.$$('[data-testid="conversation-item"]')).length === 2, { timeout: 10_000, timeoutMsg: "the deleted conversation is still listed" });
  assert.equal(await answerCount(), 0, "deleting the open conversation leaves an empty one");
  await browser.$('button[aria-label="Close conversations"]').click();
  await browser.$('[data-testid="mode-ask"]').click();
});

test("a model removed mid-chat: the next turn says which file is missing and how to get it back, the question is kept, and it answers once the model is back", async () => {
  const model = join(process.env.CODEXOS_MODELS ?? "", "SmolLM2-135M-Instruct.Q4_1.gguf");
  // Only ever a link that scripts/e2e.sh made: the shared model stays untouched.
  assert.ok((await lstat(model)).isSymbolicLink(), `${model} is not the harness's link`);
  const target = await readlink(model);
  await browser.$('[data-testid="mode-chat"]').click();
  await sendChat("Say hello in one word.");
  await unlink(model);
  try {
    const answer = await endedAnswer(await submitChat("And goodbye in one word?"), "the turn without its model", 60_000);
    assert.equal(await answer.getAttribute("data-phase"), "error", await answer.getText());
    assert.match(await answer.getText(), /SmolLM2-135M-Instruct\.Q4_1\.gguf.*missing.*models pull/s);
    const questions = await browser.$$('[data-testid="question"]');
    assert.match(await questions[questions.length - 1].getText(), /And goodbye in one word\?/, "the question is kept");
    await screenshot("chat-model-missing");
  } finally {
    await symlink(target, model);
  }
  // The model is back: regenerating answers the kept question.
  await browser.$('[data-testid="regenerate"]').click();
  await browser.waitUntil(async () => (await (await browser.$$('[data-testid="answer"]'))[1]?.getAttribute("data-phase")) === "done", {
    timeout: 180_000,
    timeoutMsg: "the kept question was not answered once the model was back",
  });
  assert.equal(await answerCount(), 2);
});

test("an agent chat asks before a tool in place: allowed the tool runs and the agent answers from it, denied the agent is told", async () => {
  // A real OpenAI-compatible server on 127.0.0.1 playing an agent: asked
  // anything, it calls `shell`; given the tool's result, it answers with it.
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const messages = JSON.parse(body || "{}").messages ?? [];
      const last = messages[messages.length - 1] ?? {};
      const message =
        last.role === "tool"
          ? { role: "assistant", content: `The shell said: ${String(last.content).slice(0, 120)}` }
          : { role: "assistant", content: null, tool_calls: [{ id: `call_${messages.length}`, type: "function", function: { name: "shell", arguments: JSON.stringify({ command: "echo inline-approved" }) } }] };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ choices: [{ index: 0, message, finish_reason: last.role === "tool" ? "stop" : "tool_calls" }] }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/v1`;
    await browser.$('[data-testid="open-settings"]').click();
    await browser.$('[data-testid="provider-add-open"]').click();
    await browser.$("#provider-preset").selectByAttribute("value", "custom");
    await fillIn('[data-testid="provider-name"]', "scripted");
    await fillIn('[data-testid="provider-url"]', url);
    await fillIn('[data-testid="provider-model"]', "agent-script");
    await browser.$('[data-testid="provider-add-submit"]').click();
    await browser.waitUntil(async () => /added scripted/.test(await browser.$('[data-testid="provider-add-result"]').getText()), { timeout: 30_000, timeoutMsg: "the scripted provider was not added" });
    await browser.$('button[aria-label="Close settings"]').click();
    // An agent on that model with `shell` (which asks by default).
    await browser.$('[data-testid="open-agents"]').click();
    await browser.$('[data-testid="agent-new"]').click();
    await fill(await browser.$('[data-testid="agent-name"]'), "sheller");
    await fill(await browser.$('[data-testid="agent-system"]'), "Run what the user asks in the shell.");
    await browser.$('[data-testid="agent-model"]').selectByAttribute("value", "scripted");
    const shell = await browser.$('[data-testid="agent-tool"][data-tool="shell"]');
    await shell.waitForExist({ timeout: 10_000 });
    await shell.click();
    await browser.$('[data-testid="agent-publish"]').click();
    await browser.waitUntil(async () => /Published sheller@1\.0\.0/.test(await browser.$('[data-testid="agent-message"]').getText()), { timeout: 10_000, timeoutMsg: "the agent was not published" });
    await browser.$('button[aria-label="Close agents"]').click();
    await browser.$('[data-testid="mode-chat"]').click();
    await browser.$('[data-testid="mode-agent"]').click();
    const picker = await browser.$('[data-testid="agent-picker"]');
    await browser.waitUntil(async () => /sheller/.test(await picker.getText()), { timeout: 10_000, timeoutMsg: "the new agent is not offered" });
    await picker.selectByAttribute("value", "sheller");
    for (const [button, expected] of [
      ["allow-tool", /The shell said: .*inline-approved/s],
      ["deny-tool", /declined in the app/],
    ]) {
      const before = await submitChat("Say inline-approved in the shell.");
      // Asked in the chat, under the turn — not in the window-wide dialog.
      const card = await browser.$('[data-testid="inline-approval"]');
      await card.waitForDisplayed({ timeout: 30_000 });
      assert.ok(!(await browser.$('[data-testid="tool-approval"]').isExisting()), "no dialog for the open conversation's call");
      assert.match(await card.getText(), /The agent wants to run shell/);
      assert.match(await card.$('[data-testid="approval-arguments"]').getText(), /echo inline-approved/);
      if (button === "allow-tool") await screenshot("chat-inline-approval");
      await card.$(`[data-testid="${button}"]`).click();
      const answer = await endedAnswer(before, `the turn after ${button}`, 60_000);
      assert.match(await answer.getText(), expected);
      assert.ok(!(await browser.$('[data-testid="inline-approval"]').isExisting()), "the card went once answered");
    }
    await browser.$('[data-testid="mode-ask"]').click();
  } finally {
    server.close();
    // The scripted provider goes again, however the test went (later tests
    // count the providers).
    await browser.$('[data-testid="open-settings"]').click();
    // (The list first: a check before it loads would find nothing to remove.)
    await browser.$('[data-testid="provider-row"]').waitForDisplayed({ timeout: 10_000 });
    const remove = await browser.$('button[aria-label="Remove scripted"]');
    if (await remove.isExisting()) {
      await remove.click();
      await browser.$('[data-testid="provider-remove-confirm"]').click();
      await browser.waitUntil(async () => !(await browser.$('button[aria-label="Remove scripted"]').isExisting()), { timeout: 10_000, timeoutMsg: "the scripted provider stayed" });
    }
    await browser.$('button[aria-label="Close settings"]').click();
  }
});

test("an agent is built and published from the editor, and a flow moves to its new version", async () => {
  await browser.$('[data-testid="open-agents"]').click();
  const panel = await browser.$('[data-testid="agents-panel"]');
  await panel.waitForDisplayed({ timeout: 10_000 });
  // A new agent from the form: prompt, a tool picked from the registry, steps.
  await browser.$('[data-testid="agent-new"]').click();
  await fill(await browser.$('[data-testid="agent-name"]'), "helper");
  await fill(await browser.$('[data-testid="agent-description"]'), "Answers questions about the project's files.");
  await fill(await browser.$('[data-testid="agent-system"]'), "You help with the project's files. Answer in one short paragraph.");
  await fill(await browser.$('[data-testid="agent-steps"]'), "2");
  const listTool = await browser.$('[data-testid="agent-tool"][data-tool="fs.list"]');
  await listTool.waitForExist({ timeout: 10_000 });
  await listTool.click();
  await browser.$('[data-testid="agent-publish"]').click();
  const message = await browser.$('[data-testid="agent-message"]');
  await browser.waitUntil(async () => /Published helper@1\.0\.0/.test(await message.getText()), { timeout: 10_000, timeoutMsg: "the agent was not published" });
  // The form moves on to the next free version; the published one is refused inline.
  assert.equal(await browser.$('[data-testid="agent-version"]').getValue(), "1.0.1");
  await fill(await browser.$('[data-testid="agent-version"]'), "1.0.0");
  await browser.waitUntil(async () => /published and never changes/.test(await panel.getText()), { timeout: 5_000, timeoutMsg: "a taken version was not refused" });
  await screenshot("agent-editor");

  // A new planner version; plan-execute pins 1.0.0 and moves to it.
  await browser.$('[data-testid="agent-item"][data-name="planner"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="agent-version"]').getValue()) === "1.0.1", { timeout: 5_000, timeoutMsg: "planner's next version was not proposed" });
  await fill(await browser.$('[data-testid="agent-system"]'), "You are a planner. Answer with a numbered plan of at most 3 short steps.");
  await browser.$('[data-testid="agent-publish"]').click();
  await browser.waitUntil(async () => /Published planner@1\.0\.1/.test(await message.getText()), { timeout: 10_000, timeoutMsg: "planner 1.0.1 was not published" });
  const pin = await browser.$('[data-testid="agent-pin"][data-flow="plan-execute"]');
  await pin.waitForDisplayed({ timeout: 10_000 });
  assert.match(await pin.getText(), /1\.0\.0/);
  await pin.$('[data-testid="agent-repin"]').click();
  await browser.waitUntil(async () => /now uses planner@1\.0\.1/.test(await message.getText()), { timeout: 10_000, timeoutMsg: "the flow did not move" });
  const file = await readFile(join(process.env.CODEXOS_HOME, "flows", "plan-execute.flow.json"), "utf8");
  assert.ok(file.includes('"planner@1.0.1"') && file.includes('"executor@1.0.0"'), file);
  await screenshot("agent-pins");
  await browser.$('button[aria-label="Close agents"]').click();

  // The new agent is used: a chat with it is a run of helper@1.0.0.
  await browser.$('[data-testid="mode-agent"]').click();
  const picker = await browser.$('[data-testid="agent-picker"]');
  await picker.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => /helper/.test(await picker.getText()), { timeout: 10_000, timeoutMsg: "the new agent is not offered" });
  await picker.selectByAttribute("value", "helper");
  const answer = await sendChat("Say hello.");
  assert.match(await browser.$('[data-testid="chat-scope"]').getText(), /Agent helper@1\.0\.0/);
  assert.match(await answer.getText(), /trace [0-9a-f]{8}/);
  await browser.$('[data-testid="mode-ask"]').click();
});

test("the canvas edits a flow, shows check errors on the node, runs it live and replays it", async () => {
  // The file preview opened above lies over the canvas.
  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  const picker = await browser.$('[data-testid="flow-picker"]');
  await picker.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await picker.getValue(), "rag-qa");
  const check = await browser.$('[data-testid="flow-check"]');

  // A node from the palette, given a setting the check rejects.
  await browser.$('[data-testid="palette-transform"]').click();
  await browser.$(".react-flow__controls-fitview").click();
  const added = await browser.$('[data-node="transform-1"]');
  await added.waitForDisplayed({ timeout: 10_000 });
  await added.click();
  // The advanced view: the node's settings as JSON.
  await browser.$('[data-testid="inspector-view-json"]').click();
  const settings = await browser.$('[data-testid="inspector-settings"]');
  await settings.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await browser.$('[data-testid="inspector-id"]').getValue(), "transform-1");
  await fill(settings, '{"kind": "transform", "set": {"undeclared": "1"}}');
  await browser.$('[data-testid="inspector-apply"]').click();
  assert.ok(!(await browser.$('[data-testid="inspector"] [role="alert"]').isExisting()), "the settings were accepted");
  await browser.waitUntil(async () => Number(await check.getAttribute("data-errors")) > 0, {
    timeout: 10_000,
    timeoutMsg: "the check did not report the undeclared key",
  });
  // (Once in a CI run under load the marker took longer than 10 s to show.)
  await added.$('[data-testid="node-problem"]').waitForDisplayed({ timeout: 30_000, timeoutMsg: `no problem marked on the node: ${await check.getAttribute("title")}` });
  assert.ok(!(await browser.$('[data-testid="flow-run"]').isEnabled()), "a flow with errors cannot run");
  await screenshot("flow-check");
  await browser.$('button[aria-label="Delete node"]').click();
  await browser.waitUntil(async () => (await check.getAttribute("data-errors")) === "0", { timeout: 10_000 });

  // Run it: nodes light up as they finish, the answer streams below.
  const input = await browser.$('[data-testid="flow-input"]');
  await fill(input, '{"question": "What is the default port of the Lumen server?"}');
  await browser.$('[data-testid="flow-run"]').click();
  const panel = await browser.$('[data-testid="run-panel"]');
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) !== "", {
    timeout: 120_000,
    timeoutMsg: "the run did not finish",
  });
  assert.equal(await panel.getAttribute("data-finished"), "succeeded", await browser.$('[data-testid="run-log"]').getText());
  for (const kind of ["input", "retrieve", "llm", "output"]) {
    assert.equal(await browser.$(`[data-testid="flow-node-${kind}"]`).getAttribute("data-status"), "done", kind);
  }
  assert.ok((await browser.$('[data-testid="run-output"]').getText()).includes("answer:"));
  await screenshot("flow-run");

  // The run is in the history; its timeline steps back to the start.
  const history = await browser.$('[data-testid="run-history"]');
  await browser.waitUntil(async () => (await history.$$("option")).length > 1, { timeout: 10_000 });
  const options = await history.$$("option");
  await history.selectByAttribute("value", await options[1].getAttribute("value"));
  const position = await browser.$('[data-testid="replay-event"]');
  await position.waitForDisplayed({ timeout: 10_000 });
  for (let step = 0; step < 60 && !(await position.getAttribute("title")).startsWith("start"); step += 1) {
    await browser.$('button[aria-label="Previous event"]').click();
  }
  assert.equal(await browser.$('[data-testid="flow-node-llm"]').getAttribute("data-status"), "idle");
  for (let step = 0; step < 4; step += 1) await browser.$('button[aria-label="Next event"]').click();
  assert.equal(await browser.$('[data-testid="flow-node-input"]').getAttribute("data-status"), "done");
  await screenshot("flow-replay");
});

test("the other example flows run from the canvas", async () => {
  const replayClose = await browser.$('button[aria-label="Close replay"]');
  if (await replayClose.isExisting()) await replayClose.click();
  const picker = await browser.$('[data-testid="flow-picker"]');
  const panel = await browser.$('[data-testid="run-panel"]');
  for (const [flow, input] of [
    ["map-reduce", '{"folder": ".", "limit": 2}'],
    ["plan-execute", '{"task": "Say which files the folder holds"}'],
  ]) {
    await picker.selectByAttribute("value", flow);
    await browser.waitUntil(async () => (await browser.$$('[data-testid^="flow-node-"]')).length > 0, { timeout: 10_000 });
    const input_ = await browser.$('[data-testid="flow-input"]');
    await fill(input_, input);
    const run = await browser.$('[data-testid="flow-run"]');
    await browser.waitUntil(async () => run.isEnabled(), { timeout: 10_000, timeoutMsg: `${flow} does not pass its check` });
    await run.click();
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "", { timeout: 10_000 });
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) !== "", {
      timeout: 240_000,
      timeoutMsg: `${flow} did not finish`,
    });
    assert.equal(await panel.getAttribute("data-finished"), "succeeded", `${flow}: ${await browser.$('[data-testid="run-log"]').getText()}`);
    await screenshot(`flow-${flow}`);
  }
});

test("a flow's budget, set in its settings, stops a run at the model call that crosses it", async () => {
  for (const label of ["Close replay", "Close preview"]) {
    const close = await browser.$(`button[aria-label="${label}"]`);
    if (await close.isExisting()) await close.click();
  }
  const picker = await browser.$('[data-testid="flow-picker"]');
  await picker.selectByAttribute("value", "rag-qa");
  await browser.$('[data-testid="flow-node-llm"]').waitForExist({ timeout: 10_000 });
  const settings = await browser.$('[data-testid="flow-settings"]');
  await settings.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the flow settings are not shown with no node selected" });
  const tokens = await browser.$('[data-testid="budget-tokens"]');
  await fill(tokens, "0");
  assert.match(await browser.$('[data-testid="budget-editor"] [role="alert"]').getText(), /whole number, 1 or more/);
  const panel = await browser.$('[data-testid="run-panel"]');
  try {
    await fill(tokens, "1");
    await browser.waitUntil(async () => !(await browser.$('[data-testid="budget-editor"] [role="alert"]').isExisting()), { timeout: 10_000 });
    await fill(await browser.$('[data-testid="flow-input"]'), '{"question": "What is the default port of the Lumen server?"}');
    await browser.$('[data-testid="flow-run"]').click();
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "", { timeout: 10_000 });
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) !== "", { timeout: 120_000, timeoutMsg: "the run did not finish" });
    // Positive control: the model was called (its tokens are what crossed the limit).
    assert.equal(await panel.getAttribute("data-finished"), "failed", await browser.$('[data-testid="run-log"]').getText());
    // The log's lines are cut to the panel's width: read their whole text.
    const logText = () => browser.execute(() => document.querySelector('[data-testid="run-log"]')?.textContent ?? "");
    await browser.waitUntil(async () => /budget: \d+ tokens used, 1 allowed/.test(await logText()), {
      timeout: 10_000,
      timeoutMsg: "the run log does not say the budget stopped the run",
    });
    assert.match(await browser.$('[data-testid="flow-notice"]').getAttribute("title"), /budget: \d+ tokens used, 1 allowed — the run stopped/);
    assert.equal(await browser.$('[data-testid="flow-node-llm"]').getAttribute("data-status"), "failed");
    await screenshot("flow-budget");
  } finally {
    // Cleared, the flow has no budget again (later tests run it).
    await fill(tokens, "");
  }
  await browser.$('[data-testid="flow-run"]').click();
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "", { timeout: 10_000 });
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) !== "", { timeout: 120_000, timeoutMsg: "the run did not finish" });
  assert.equal(await panel.getAttribute("data-finished"), "succeeded", await browser.$('[data-testid="run-log"]').getText());
});

test("a flow is built from scratch with forms only, checked, run, inspected, forked, diffed, rolled back, renamed, deleted and restored", async () => {
  const replayClose = await browser.$('button[aria-label="Close replay"]');
  if (await replayClose.isExisting()) await replayClose.click();
  // A file preview left open by an earlier test lies over the canvas.
  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  const picker = await browser.$('[data-testid="flow-picker"]');
  const check = await browser.$('[data-testid="flow-check"]');
  // Room for the canvas: the side panels fold away (and come back at the end).
  const canvasWidth = async () => (await browser.$('[data-testid="flow-canvas"]').getSize()).width;
  const before = await canvasWidth();
  await browser.$('[data-testid="toggle-projects"]').click();
  await browser.$('[data-testid="toggle-chat"]').click();
  await browser.waitUntil(async () => !(await browser.$('[data-testid="chat-input"]').isDisplayed()), { timeout: 10_000, timeoutMsg: "the chat did not fold away" });
  assert.ok((await canvasWidth()) > before + 400, `the canvas grew from ${before}px to ${await canvasWidth()}px`);

  // New, blank: an input wired to an output.
  await browser.$('[data-testid="flow-new"]').click();
  const dialog = await browser.$('[data-testid="flow-name-dialog"]');
  await dialog.waitForDisplayed({ timeout: 10_000 });
  await fill(await browser.$('[data-testid="flow-name"]'), "e2e-forms");
  await browser.$('[data-testid="flow-name-submit"]').click();
  await browser.waitUntil(async () => (await picker.getValue()) === "e2e-forms", { timeout: 10_000, timeoutMsg: "the new flow was not opened" });
  await browser.$('[data-testid="flow-node-input"]').waitForDisplayed({ timeout: 10_000 });

  // The flow's state, declared in its settings panel.
  const settings = await browser.$('[data-testid="flow-settings"]');
  await settings.waitForDisplayed({ timeout: 10_000 });
  for (const key of ["question", "answer"]) {
    await fill(await browser.$('[data-testid="state-editor-name"]'), key);
    await browser.$('[data-testid="state-editor-add"]').click();
  }
  await browser.waitUntil(async () => (await browser.$$('[data-testid="state-editor-row"]')).length === 2, { timeout: 10_000 });

  // The input node takes the question: a checkbox of the generated form.
  await selectNode('[data-testid="flow-node-input"]');
  await browser.$('[data-testid="node-form"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="field-fields-question"]').click();

  // An LLM node from the palette lands after the selected input, wired in.
  await browser.$('[data-testid="palette-llm"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-id"]').getValue()) === "llm-1", { timeout: 10_000 });
  await fill(await browser.$('[data-testid="field-prompt"]'), "Answer in a few words: {{ question }}");
  await fill(await browser.$('[data-testid="field-maxTokens"]'), "2.5");
  await browser.$('[data-testid="field-maxTokens-error"]').waitForDisplayed({ timeout: 10_000 });
  assert.match(await browser.$('[data-testid="field-maxTokens-error"]').getText(), /whole number/);
  await fill(await browser.$('[data-testid="field-maxTokens"]'), "24");
  await fill(await browser.$('[data-testid="inspector-output"]'), "answer");
  await browser.waitUntil(async () => (await browser.$('[data-node="llm-1"]').getAttribute("data-output")) === "answer", { timeout: 10_000, timeoutMsg: "the output key was not applied" });
  await screenshot("flow-forms");

  // The output node returns the answer.
  await selectNode('[data-testid="flow-node-output"]');
  await browser.$('[data-testid="field-keys-answer"]').click();
  await browser.waitUntil(async () => (await check.getText()).includes("checked"), {
    timeout: 10_000,
    timeoutMsg: `the built flow does not pass its check: ${await check.getAttribute("title")}`,
  });

  // Undo and redo a change.
  await fill(await browser.$('[data-testid="inspector-title"]'), "Result");
  // (Truncating elements hide their text from WebDriver's getText; the title carries it.)
  const title = () => browser.$('[data-testid="flow-node-output"] span.truncate').getAttribute("title");
  await browser.waitUntil(async () => (await title()) === "Result", { timeout: 10_000 });
  await browser.$('[data-testid="flow-undo"]').click();
  await browser.waitUntil(async () => (await title()) === "Output", { timeout: 10_000, timeoutMsg: "undo did not revert the title" });
  await browser.$('[data-testid="flow-redo"]').click();
  await browser.waitUntil(async () => (await title()) === "Result", { timeout: 10_000, timeoutMsg: "redo did not bring it back" });

  // Run it on the local model.
  const input = await browser.$('[data-testid="flow-input"]');
  await fill(input, '{"question": "What colour is a clear daytime sky?"}');
  await browser.$('[data-testid="flow-run"]').click();
  const panel = await browser.$('[data-testid="run-panel"]');
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "", { timeout: 10_000 });
  await browser
    .waitUntil(async () => (await panel.getAttribute("data-finished")) !== "", { timeout: 120_000, timeoutMsg: "the run did not finish" })
    .catch(async (error) => {
      await screenshot("flow-forms-run-timeout");
      const notice = await browser.$('[data-testid="flow-notice"]');
      if (await notice.isExisting()) error.message += ` (the canvas says: ${await notice.getAttribute("title")})`;
      throw error;
    });
  assert.equal(await panel.getAttribute("data-finished"), "succeeded", await browser.$('[data-testid="run-log"]').getText());
  assert.equal(await browser.$('[data-testid="flow-node-llm"]').getAttribute("data-status"), "done");
  // The model's answer streamed under its node's id.
  assert.match(await browser.$('[data-testid="run-output"]').getText(), /llm-1: \S/);
  await screenshot("flow-forms-run");

  // The run inspector: the prompt the model saw (rendered) and its answer.
  await browser.$('[data-testid="inspect-run"]').click();
  const inspector = await browser.$('[data-testid="run-inspector"]');
  await inspector.waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="inspector-pick-llm-1"]').click();
  const prompt = await browser.$('[data-testid="inspector-prompt"]');
  await prompt.waitForDisplayed({ timeout: 10_000 });
  const prompts = [];
  for (const element of await browser.$$('[data-testid="inspector-prompt"]')) prompts.push(await element.getText());
  assert.ok(prompts.some((text) => text.includes("Answer in a few words: What colour is a clear daytime sky?")), prompts.join(" | "));
  assert.ok((await browser.$('[data-testid="inspector-answer"]').getText()).trim().length > 0, "the answer is shown");
  assert.match(await browser.$('[data-testid="inspector-writes"]').getText(), /answer/);
  // Its trace: tokens in and out and the local model's compute time, per node,
  // per call and for the run (a local model costs no money).
  assert.match(await browser.$('[data-testid="inspector-usage"]').getText(), /^1 model call · \d+ in → \d+ out tokens( · \d+ cached)? · \d+\.\d s local model time/);
  assert.match(await browser.$('[data-testid="inspector-call-usage"]').getText(), /\d+ in → \d+ out tokens( · \d+ cached)? · \d+ ms · first token \d+ ms/);
  assert.match(await browser.$('[data-testid="run-usage"]').getText(), /model call.*tokens/);
  // Replayed offline from the recording, it reproduces the run node by node.
  await browser.$('[data-testid="run-replay"]').click();
  const report = await browser.$('[data-testid="replay-report"]');
  await report.waitForDisplayed({ timeout: 60_000 });
  assert.equal(await report.getAttribute("data-identical"), "true", await report.getText());
  await screenshot("run-inspector");
  // A fork from the model node with an edited question is a new run.
  await browser.$('[data-testid="inspector-node"] details summary').click();
  await fill(await browser.$('[data-testid="fork-edits"]'), '{"question": "What colour is fresh grass?"}');
  await browser.$('[data-testid="fork-run"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-status"]').getText()).includes("forked from"), {
    timeout: 120_000,
    timeoutMsg: "the fork did not open as a new run",
  });
  await browser.$('[data-testid="inspector-pick-llm-1"]').click();
  const forked = [];
  for (const element of await browser.$$('[data-testid="inspector-prompt"]')) forked.push(await element.getText());
  assert.ok(forked.some((text) => text.includes("fresh grass")), forked.join(" | "));
  // Compared with the run it was forked from, side by side: the model node is
  // where they part ways, its prompt marked as different.
  const compareWith = await browser.$('[data-testid="compare-with"]');
  await browser.waitUntil(async () => (await browser.$$('[data-testid="compare-with"] option')).length >= 2, { timeout: 10_000, timeoutMsg: "the original run is not offered for comparison" });
  await compareWith.selectByIndex(1);
  const comparison = await browser.$('[data-testid="run-compare"]');
  await comparison.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await comparison.getAttribute("data-first-divergence"), "llm-1", await browser.$('[data-testid="compare-summary"]').getText());
  const promptSection = await browser.$('[data-testid="compare-section-prompt"]');
  assert.equal(await promptSection.getAttribute("data-differs"), "true");
  const sides = await browser.execute(() => [...document.querySelectorAll('[data-testid="compare-section-prompt"] .grid > div')].map((element) => element.textContent));
  assert.ok(sides[0].includes("fresh grass") && sides[1].includes("clear daytime sky"), sides.join(" | "));
  assert.match(await browser.$('[data-testid="compare-figures-a"]').getText(), /A · \d+\+\d+ tok/);
  assert.equal(await browser.$('[data-testid="compare-pick-input"]').getAttribute("data-differs"), "only in B", "the fork did not run the input node again");
  await screenshot("run-compare");
  await browser.$('[data-testid="compare-close"]').click();
  await comparison.waitForExist({ reverse: true, timeout: 10_000 });
  await browser.$('button[aria-label="Close run inspector"]').click();

  // Versions: the first (blank) version against the one that ran, marked on the canvas.
  await browser.$('[data-testid="open-versions"]').click();
  const versions = await browser.$('[data-testid="versions-panel"]');
  await versions.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="version-from"] option')).length >= 2, { timeout: 10_000, timeoutMsg: "fewer than two versions" });
  await browser.$('[data-testid="version-from"]').selectByAttribute("value", "1");
  await browser.waitUntil(async () => (await browser.$('[data-node="llm-1"]').getAttribute("data-mark")) === "added", { timeout: 10_000, timeoutMsg: "the added node is not marked" });
  assert.match(await browser.$('[data-testid="version-changes"]').getText(), /\+1 added/);
  await browser.waitUntil(async () => (await browser.$('[data-testid="version-diff"]').getText()).includes('+    {'), { timeout: 10_000, timeoutMsg: "no JSON diff shown" });
  assert.match(await browser.$('[data-testid="version-diff"]').getText(), /llm-1/);
  await screenshot("flow-versions");
  // Roll back to v1: the blank flow is back in the file and on the canvas.
  await browser.$('[data-testid="version-rollback"]').click();
  await versions.waitForExist({ reverse: true, timeout: 10_000 });
  await browser.waitUntil(async () => !(await browser.$('[data-node="llm-1"]').isExisting()), { timeout: 10_000, timeoutMsg: "the rollback did not reach the canvas" });
  assert.match(await browser.$('[data-testid="flow-notice"]').getAttribute("title"), /rolled back e2e-forms to v1/);

  // Rename, delete, and undo the delete.
  await browser.$('[data-testid="flow-rename"]').click();
  await fill(await browser.$('[data-testid="flow-name"]'), "e2e-renamed");
  await browser.$('[data-testid="flow-name-submit"]').click();
  await browser.waitUntil(async () => (await picker.getValue()) === "e2e-renamed", { timeout: 10_000, timeoutMsg: "the rename did not land" });
  assert.ok(!(await picker.getText()).includes("e2e-forms"), "the old name is gone from the library");
  await browser.$('[data-testid="flow-delete"]').click();
  await browser.$('[data-testid="flow-deleted"]').waitForDisplayed({ timeout: 10_000 });
  assert.ok(!(await picker.getText()).includes("e2e-renamed"), "the deleted flow left the library");
  await screenshot("flow-deleted");
  await browser.$('[data-testid="flow-undelete"]').click();
  await browser.waitUntil(async () => (await picker.getValue()) === "e2e-renamed", { timeout: 10_000, timeoutMsg: "the deleted flow did not come back" });
  await browser.$('[data-testid="flow-node-output"]').waitForExist({ timeout: 10_000 });
  await browser.$('[data-testid="toggle-projects"]').click();
  await browser.$('[data-testid="toggle-chat"]').click();
  await browser.$('[data-testid="chat-input"]').waitForDisplayed({ timeout: 10_000 });
});

test("the analytics dashboard shows the runs so far, breaks them down, and drills from a day or a row into a run", async () => {
  await browser.$('[data-testid="open-analytics"]').click();
  const panel = await browser.$('[data-testid="analytics-panel"]');
  await panel.waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="analytics-totals"]').waitForDisplayed({ timeout: 30_000 });
  const tile = async (label) => browser.$(`[data-testid="analytics-tile"][data-label="${label}"] [data-testid="analytics-tile-value"]`).getText();
  // The earlier tests ran flows on the local model: runs and tokens are counted.
  const runs = Number((await tile("Runs")).replace(/,/g, ""));
  assert.ok(runs >= 3, `runs counted: ${runs}`);
  assert.ok(Number((await tile("Tokens")).replace(/,/g, "")) > 0, "tokens counted");
  assert.match(await tile("Run latency"), /\d.* \/ \d/);
  for (const chart of ["runs", "tokens", "cost", "latency"]) {
    assert.ok(await browser.$(`[data-testid="chart-${chart}"] canvas`).isExisting(), `the ${chart} chart is drawn`);
  }
  const rowValues = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="analytics-breakdown"] [data-testid="analytics-row"]')].map((row) => row.dataset.value));
  assert.ok((await rowValues()).includes("e2e-forms"), `flows: ${await rowValues()}`);
  // The chat panel's asks and chat turns are counted as runs of their own.
  const flows = await rowValues();
  assert.ok(flows.includes("ask") && flows.includes("chat"), `asks and chat turns: ${flows}`);
  await screenshot("analytics");

  // By model: the local model that answered is a row; it drills down to its runs.
  await browser.$('[data-testid="analytics-by"]').selectByAttribute("value", "model");
  await browser.waitUntil(async () => (await rowValues()).some((value) => /smollm|qwen/i.test(value)), { timeout: 10_000, timeoutMsg: `no local model row: ${await rowValues()}` });
  const model = (await rowValues()).find((value) => /smollm|qwen/i.test(value));
  await browser.$(`[data-testid="analytics-breakdown"] [data-testid="analytics-row"][data-value="${model}"]`).click();
  const list = await browser.$('[data-testid="analytics-runs"]');
  await list.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="analytics-run"]')).length > 0, { timeout: 10_000, timeoutMsg: "no runs behind the model's row" });

  // A day on a chart drills down to that day's runs (the rightmost point is today).
  const over = await browser.$('[data-testid="chart-runs"] .u-over');
  const { width } = await over.getSize();
  await over.click({ x: Math.floor(width / 2) - 1 });
  const today = new Date().toISOString().slice(0, 10);
  await browser.waitUntil(async () => (await list.getAttribute("aria-label")) === `Runs on ${today}`, { timeout: 10_000, timeoutMsg: `the chart's rightmost day did not drill into today: ${await list.getAttribute("aria-label")}` });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="analytics-run"]')).length >= 3, { timeout: 10_000, timeoutMsg: "today's runs are not listed" });
  // The same from the keyboard: today's row of the day-by-day table (after another list).
  await browser.$('[data-testid="analytics-breakdown"] [data-testid="analytics-row"]').click();
  await browser.waitUntil(async () => (await list.getAttribute("aria-label")).startsWith("Runs with model"), { timeout: 10_000 });
  await browser.$('[data-testid="analytics-days"] summary').click();
  await browser.$(`[data-testid="analytics-day"][data-date="${today}"]`).click();
  await browser.waitUntil(async () => (await list.getAttribute("aria-label")) === `Runs on ${today}`, { timeout: 10_000, timeoutMsg: `today's row did not drill into today: ${await list.getAttribute("aria-label")}` });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="analytics-run"]')).length >= 3, { timeout: 10_000, timeoutMsg: "today's runs are not listed" });
  await browser.$('[data-testid="analytics-run"]').click();
  await browser.$('[data-testid="run-inspector"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('button[aria-label="Close run inspector"]').click();

  // A range with no runs says so.
  await browser.$('button[aria-label="Close the run list"]').click();
  const range = () => browser.$('[data-testid="analytics-timing"]').getText();
  await fill(await browser.$('[data-testid="analytics-from"]'), "2020-01-01");
  await browser.waitUntil(async () => (await range()).startsWith("2020-01-01 …"), { timeout: 10_000, timeoutMsg: `the start of the range did not apply: ${await range()}` });
  await fill(await browser.$('[data-testid="analytics-to"]'), "2020-01-31");
  const panelText = () => browser.execute(() => document.querySelector('[data-testid="analytics-panel"]')?.textContent ?? "");
  await browser.waitUntil(async () => (await panelText()).includes("No runs from 2020-01-01 to 2020-01-31"), {
    timeout: 10_000,
    timeoutMsg: `the empty range is not said: ${(await panelText()).slice(0, 400)}`,
  });
  await browser.$('button[aria-label="Close analytics"]').click();
  await panel.waitForExist({ reverse: true, timeout: 10_000 });
});

test("a run is added to a dataset from its inspector, evaluated live in the evals view, then replayed against that eval as its baseline", async () => {
  // A map-reduce run from an earlier test, found through the dashboard.
  await browser.$('[data-testid="open-analytics"]').click();
  await browser.$('[data-testid="analytics-totals"]').waitForDisplayed({ timeout: 30_000 });
  await browser.$('[data-testid="analytics-by"]').selectByAttribute("value", "flow");
  const row = await browser.$('[data-testid="analytics-breakdown"] [data-testid="analytics-row"][data-value="map-reduce"]');
  await row.waitForDisplayed({ timeout: 10_000 });
  await row.click();
  await browser.waitUntil(async () => (await browser.$$('[data-testid="analytics-run"]')).length > 0, { timeout: 10_000, timeoutMsg: "no map-reduce run listed" });
  await browser.$('[data-testid="analytics-run"]').click();
  const inspector = await browser.$('[data-testid="run-inspector"]');
  await inspector.waitForDisplayed({ timeout: 10_000 });
  // Offered once the run's detail says it succeeded.
  const target = await browser.$('[data-testid="dataset-target"]');
  await target.waitForDisplayed({ timeout: 10_000 });
  await fill(target, "e2e-set");
  await browser.$('[data-testid="add-to-dataset"]').click();
  const added = await browser.$('[data-testid="dataset-added"]');
  await added.waitForDisplayed({ timeout: 10_000 });
  assert.match(await added.getText(), /added as case run-\w+ of dataset e2e-set/);
  await browser.$('button[aria-label="Close run inspector"]').click();
  await browser.$('button[aria-label="Close analytics"]').click();

  // The evals view lists the dataset; a live eval runs its case with progress.
  await browser.$('[data-testid="open-evals"]').click();
  const panel = await browser.$('[data-testid="evals-panel"]');
  await panel.waitForDisplayed({ timeout: 10_000 });
  // A file from elsewhere is imported as a dataset.
  const file = join(tmpdir(), `e2e-imported-${process.pid}.jsonl`);
  await writeFile(file, '{"id": "one", "input": {"folder": "."}, "expected": "x"}\n{"id": "two", "input": {"folder": "."}}\n');
  await fill(await browser.$('[data-testid="dataset-import-path"]'), file);
  await browser.$('[data-testid="dataset-import"]').click();
  const imported = await browser.$(`[data-testid="dataset"][data-name="e2e-imported-${process.pid}"]`);
  await imported.waitForDisplayed({ timeout: 10_000 });
  assert.match(await imported.getText(), /2 cases/);
  await unlink(file);
  await browser.$('[data-testid="dataset"][data-name="e2e-set"]').waitForDisplayed({ timeout: 10_000 });
  assert.match(await browser.$('[data-testid="dataset"][data-name="e2e-set"]').getText(), /1 case\b/);
  await browser.$('[data-testid="eval-flow"]').selectByVisibleText("map-reduce");
  await browser.$('[data-testid="eval-dataset"]').selectByAttribute("value", "e2e-set");
  await fill(await browser.$('[data-testid="eval-scorers"]'), "contains");
  await fill(await browser.$('[data-testid="eval-thresholds"]'), "pass-rate=0");
  await browser.$('[data-testid="eval-start"]').click();
  await browser.$('[data-testid="eval-progress"]').waitForDisplayed({ timeout: 10_000 });
  const report = await browser.$('[data-testid="eval-report"]');
  await report.waitForDisplayed({ timeout: 240_000 });
  const live = await report.getAttribute("data-eval");
  const liveCase = await browser.$('[data-testid="eval-case"]');
  const liveMark = await liveCase.getAttribute("data-mark");
  assert.ok(["pass", "fail", "flaky"].includes(liveMark), liveMark);
  assert.match(await browser.$('[data-testid="eval-verdict"]').getText(), /thresholds held/);
  await screenshot("eval-live");
  // The case's run opens in the run inspector.
  await browser.$('[data-testid="eval-run"]').click();
  await browser.$('[data-testid="run-inspector"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('button[aria-label="Close run inspector"]').click();

  // The same eval replayed against the live one: nothing called, nothing changed.
  await browser.$('[data-testid="eval-baseline"]').selectByAttribute("value", live);
  await browser.$('[data-testid="eval-replay"]').click();
  await fill(await browser.$('[data-testid="eval-thresholds"]'), "regressions=0");
  await browser.$('[data-testid="eval-start"]').click();
  await browser.waitUntil(async () => {
    const shown = await browser.$('[data-testid="eval-report"]');
    return (await shown.isExisting()) && (await shown.getAttribute("data-eval")) !== live;
  }, { timeout: 60_000, timeoutMsg: "the replayed eval did not report" });
  const replayed = await browser.$('[data-testid="eval-case"]');
  assert.equal(await replayed.getAttribute("data-mark"), liveMark, "a replay scores as the recording did");
  assert.match(await replayed.getText(), /= unchanged/);
  assert.match(await browser.$('[data-testid="eval-verdict"]').getText(), /thresholds held/);
  await browser.$('[data-testid="eval-case"] button').click();
  await browser.$('[data-testid="eval-case-detail"]').waitForDisplayed({ timeout: 10_000 });
  const detail = await browser.$('[data-testid="eval-case-detail"]').getText();
  assert.match(detail, /#1 · succeeded/, "the replayed run ran to its end");
  assert.doesNotMatch(detail, /not recorded/, detail);
  await screenshot("eval-replay");
  // Saved as a baseline file, with the recorded calls a replay needs.
  const baselineFile = join(tmpdir(), `e2e-baseline-${process.pid}.json`);
  await fill(await browser.$('[data-testid="eval-export-path"]'), baselineFile);
  await browser.$('[data-testid="eval-export"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="eval-exported"]').isExisting()) && /saved to/.test(await browser.$('[data-testid="eval-exported"]').getText()), {
    timeout: 10_000,
    timeoutMsg: "the baseline file was not saved",
  });
  const exported = JSON.parse(await readFile(baselineFile, "utf8"));
  assert.equal(exported.format, "codexos-eval/1");
  assert.ok(exported.cases[0].attempts[0].calls.length > 0, "the file carries the recorded calls");
  await unlink(baselineFile);
  assert.deepEqual(await accessibilityProblems('[data-testid="evals-panel"]'), []);
  await browser.$('button[aria-label="Close evals"]').click();
  await panel.waitForExist({ reverse: true, timeout: 10_000 });
});

test("a human input node is answered in a typed form from the run panel", async () => {
  const picker = await browser.$('[data-testid="flow-picker"]');
  await browser.$('[data-testid="flow-new"]').click();
  await browser.$('[data-testid="flow-name-dialog"]').waitForDisplayed({ timeout: 10_000 });
  await fill(await browser.$('[data-testid="flow-name"]'), "e2e-human");
  await browser.$('[data-testid="flow-name-submit"]').click();
  await browser.waitUntil(async () => (await picker.getValue()) === "e2e-human", { timeout: 10_000, timeoutMsg: "the new flow was not opened" });
  await browser.$('[data-testid="flow-settings"]').waitForDisplayed({ timeout: 10_000 });
  await fill(await browser.$('[data-testid="state-editor-name"]'), "name");
  await browser.$('[data-testid="state-editor-add"]').click();
  await browser.$('[data-testid="state-editor-row"]').waitForExist({ timeout: 10_000 });
  await selectNode('[data-testid="flow-node-input"]');
  await browser.$('[data-testid="palette-human"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-id"]').getValue()) === "human-1", { timeout: 10_000 });
  await fill(await browser.$('[data-testid="field-prompt"]'), "What is your name?");
  await browser.$('[data-testid="field-mode"]').selectByAttribute("value", "input");
  await fill(await browser.$('[data-testid="inspector-output"]'), "name");
  await browser.waitUntil(async () => (await browser.$('[data-node="human-1"]').getAttribute("data-output")) === "name", { timeout: 10_000 });
  await selectNode('[data-testid="flow-node-output"]');
  await browser.$('[data-testid="field-keys-name"]').click();
  const check = await browser.$('[data-testid="flow-check"]');
  await browser.waitUntil(async () => (await check.getText()).includes("checked"), { timeout: 10_000, timeoutMsg: `check: ${await check.getAttribute("title")}` });

  const input = await browser.$('[data-testid="flow-input"]');
  await fill(input, "{}");
  await browser.$('[data-testid="flow-run"]').click();
  const prompt = await browser.$('[data-testid="human-prompt"]');
  await prompt.waitForDisplayed({ timeout: 60_000 });
  assert.equal(await prompt.getAttribute("data-mode"), "input");
  assert.equal(await browser.$('[data-testid="human-question"]').getText(), "What is your name?");
  await browser.$('[data-testid="human-answer"]').setValue("Ada Lovelace");
  await screenshot("human-input");
  await browser.$('[data-testid="human-submit"]').click();
  const panel = await browser.$('[data-testid="run-panel"]');
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "succeeded", {
    timeout: 60_000,
    timeoutMsg: `the answered run did not succeed: ${await browser.$('[data-testid="run-log"]').getText()}`,
  });
  // The answer is what the node wrote.
  await browser.$('[data-testid="inspect-run"]').click();
  await browser.$('[data-testid="inspector-pick-human-1"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-writes"]').getText()).includes("Ada Lovelace"), { timeout: 10_000, timeoutMsg: "the answer was not written" });
  await browser.$('button[aria-label="Close run inspector"]').click();
});

test("the flow file stays the source of truth: outside edits reload, conflicts ask, a broken file loses nothing", async () => {
  const file = join(process.env.CODEXOS_HOME, "flows", "e2e-human.flow.json");
  const notice = () => browser.$('[data-testid="flow-notice"]').getAttribute("title");
  const nodeTitle = (id) => browser.$(`[data-node="${id}"] span.truncate`).getAttribute("title");
  assert.equal(await browser.$('[data-testid="flow-picker"]').getValue(), "e2e-human");
  // No unsaved edits: an edit made in another editor simply reloads.
  const flow = JSON.parse(await readFile(file, "utf8"));
  flow.nodes.find((node) => node.id === "human-1").title = "Asked outside";
  await writeFile(file, JSON.stringify(flow, null, 2));
  await browser.waitUntil(async () => (await nodeTitle("human-1")) === "Asked outside", { timeout: 15_000, timeoutMsg: "the outside edit did not reload" });
  assert.match(await notice(), /reloaded e2e-human/);

  // Unsaved edits and an outside edit: the app asks; keeping mine, Save writes mine.
  await selectNode('[data-testid="flow-node-output"]');
  await fill(await browser.$('[data-testid="inspector-title"]'), "Mine");
  await browser.waitUntil(async () => (await nodeTitle("output")) === "Mine", { timeout: 10_000 });
  flow.description = "edited outside";
  await writeFile(file, JSON.stringify(flow, null, 2));
  await browser.$('[data-testid="disk-conflict"]').waitForDisplayed({ timeout: 15_000 });
  await screenshot("disk-conflict");
  await browser.$('[data-testid="conflict-keep"]').click();
  assert.equal(await nodeTitle("output"), "Mine");

  // A broken file on disk: said so, the canvas keeps its copy, Save writes it back.
  await writeFile(file, "{ not json");
  await browser.waitUntil(async () => /cannot be read/.test(await notice()), { timeout: 15_000, timeoutMsg: "the broken file was not reported" });
  assert.equal(await nodeTitle("output"), "Mine");
  await browser.$('[data-testid="flow-save"]').click();
  await browser.waitUntil(async () => (await readFile(file, "utf8")).includes('"Mine"'), { timeout: 10_000, timeoutMsg: "Save did not write the canvas copy back" });
  JSON.parse(await readFile(file, "utf8"));

  // The whole flows folder deleted under the app: said so, the canvas keeps
  // the open flow, and every flow gone comes back from its saved versions.
  await rm(join(process.env.CODEXOS_HOME, "flows"), { recursive: true });
  const banner = await browser.$('[data-testid="flows-missing"]');
  await banner.waitForDisplayed({ timeout: 15_000 });
  assert.match(await banner.getText(), /deleted outside the app \(.*e2e-human.*\) — (its|their) saved versions are kept/);
  assert.equal(await browser.$('[data-testid="flow-picker"]').getValue(), "e2e-human", "the picker still names the open flow");
  assert.match(await notice(), /e2e-human's file was deleted outside the app — the canvas keeps it/);
  assert.equal(await nodeTitle("output"), "Mine");
  await screenshot("flows-folder-deleted");
  await browser.$('[data-testid="flows-missing-restore"]').click();
  await browser.waitUntil(async () => !(await banner.isExisting()), { timeout: 10_000, timeoutMsg: "the banner stayed" });
  assert.match(await notice(), /restored .*e2e-human.* from the saved versions/);
  assert.ok((await readFile(file, "utf8")).includes('"Mine"'), "the newest saved version is back on disk");
  assert.equal(await nodeTitle("output"), "Mine");
});

test("a node is copied, pasted, undone and the flow auto-laid out", async () => {
  await selectNode('[data-node="human-1"]');
  await browser.keys(["Control", "c"]);
  await browser.keys(["Control", "v"]);
  await browser.$('[data-node="human-2"]').waitForExist({ timeout: 10_000, timeoutMsg: "the copy was not pasted" });
  assert.equal(await browser.$('[data-testid="inspector-id"]').getValue(), "human-2");
  await browser.$('[data-testid="flow-undo"]').click();
  await browser.$('[data-node="human-2"]').waitForExist({ reverse: true, timeout: 10_000, timeoutMsg: "undo did not remove the copy" });
  await browser.$('[data-testid="flow-save"]').click();
  await browser.waitUntil(async () => !(await browser.$('[data-testid="flow-save"]').getText()).includes("*"), { timeout: 10_000 });
  const where = () => browser.execute(() => [...document.querySelectorAll(".react-flow__node")].map((node) => `${node.getAttribute("data-id")}@${node.style.transform}`).sort().join(" "));
  const before = await where();
  await browser.$('[data-testid="flow-layout"]').click();
  await browser.waitUntil(async () => (await where()) !== before, { timeout: 10_000, timeoutMsg: `auto-layout moved no node: ${before}` });
  assert.ok((await browser.$('[data-testid="flow-save"]').getText()).includes("*"), "the layout is an unsaved edit");
  await screenshot("flow-layout");
  await browser.$('[data-testid="flow-save"]').click();
});

test("settings → logs shows the app's structured log live, filtered by level, component and text", async () => {
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$("button=logs").click();
  await browser.$('[data-testid="logs-tab"]').waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="log-line"]')).length > 0, { timeout: 10_000, timeoutMsg: "no log lines shown" });
  // Read in one go: the list is live, and lines come and go between two reads.
  const levels = () => browser.execute(() => [...document.querySelectorAll('[data-testid="log-line"]')].map((line) => line.getAttribute("data-level")));
  const texts = () => browser.execute(() => [...document.querySelectorAll('[data-testid="log-line"]')].map((line) => line.textContent ?? ""));
  assert.ok((await levels()).includes("INFO"), `info lines are shown: ${await levels()}`);
  await browser.$('[data-testid="logs-level"]').selectByAttribute("value", "warn");
  await browser.waitUntil(async () => (await levels()).every((level) => ["WARN", "ERROR"].includes(level)), { timeout: 10_000, timeoutMsg: "the level filter let info lines through" });
  await browser.$('[data-testid="logs-level"]').selectByAttribute("value", "info");
  await browser.$('[data-testid="logs-component"]').setValue("lance");
  await browser.waitUntil(
    async () => {
      const lines = await texts();
      return lines.length > 0 && lines.every((text) => text.includes("lance"));
    },
    { timeout: 10_000, timeoutMsg: "the component filter did not apply" },
  );
  await screenshot("settings-logs");
  await browser.$('button[aria-label="Close settings"]').click();
});

test("the command palette reaches the app's actions by typing", async () => {
  const palette = await browser.$('[data-testid="command-palette"]');
  const command = async (words) => {
    await browser.$('[data-testid="flow-canvas"]').click();
    await browser.keys(["Control", "k"]);
    await palette.waitForDisplayed({ timeout: 10_000 });
    await browser.$('[data-testid="palette-query"]').setValue(words);
    await browser.keys(["Enter"]);
    await palette.waitForExist({ reverse: true, timeout: 10_000 });
  };
  await command("go to flow map-reduce");
  await browser.waitUntil(async () => (await browser.$('[data-testid="flow-picker"]').getValue()) === "map-reduce", { timeout: 10_000, timeoutMsg: "the palette did not open map-reduce" });
  await command("open settings");
  await browser.$('[data-testid="settings"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('button[aria-label="Close settings"]').click();
  // The header button opens it too; Escape closes it.
  await browser.$('[data-testid="open-palette"]').click();
  await palette.waitForDisplayed({ timeout: 10_000 });
  assert.ok((await browser.$$('[data-testid="palette-action"]')).length > 20, "every action is listed");
  await screenshot("command-palette");
  await browser.keys(["Escape"]);
  await palette.waitForExist({ reverse: true, timeout: 10_000 });
});

test("settings list the tool sources, their tools and the sandbox", async () => {
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$("button=tools").click();
  const tab = await browser.$('[data-testid="tools-tab"]');
  await tab.waitForDisplayed({ timeout: 10_000 });
  await browser.waitUntil(async () => (await browser.$$('[data-testid="tool-source"]')).length >= 3, {
    timeout: 20_000,
    timeoutMsg: "the tool sources are not listed",
  });
  const text = await tab.getText();
  assert.match(text, /Sandbox: bubblewrap/);
  assert.match(text, /builtin\s*ready · 12 tools/);
  assert.match(text, /folder:.*ready · 3 tools/);
  assert.ok(await browser.$('[data-testid="tool-row"] [title="shell"]').isExisting());
  await screenshot("settings-tools");
  await browser.$('button[aria-label="Close settings"]').click();
});

/** Fills a form field found by selector. */
/** A port on 127.0.0.1 that nothing listens on. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function fillIn(selector, value) {
  const element = await browser.$(selector);
  await element.waitForDisplayed({ timeout: 10_000 });
  await fill(element, value);
}

test("tool sources are added after a check, a broken one refused with its reason, then removed", async () => {
  const cli = join(dirname(app), "codexos");
  assert.ok(existsSync(cli), `the CLI binary is built next to the app (${cli})`);
  const home = process.env.CODEXOS_HOME;
  const work = dirname(home);
  await writeFile(
    join(work, "pets.yaml"),
    "openapi: 3.0.3\ninfo: {title: pets, version: '1'}\nservers: [{url: 'http://127.0.0.1:9'}]\npaths:\n  /pets:\n    get: {operationId: listPets}\n",
  );
  await writeFile(join(work, "old.yaml"), "swagger: '2.0'\n");
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$("button=tools").click();
  await browser.$('[data-testid="tools-tab"]').waitForDisplayed({ timeout: 10_000 });
  const configBefore = await readFile(join(home, "config.toml"), "utf8");

  // A Swagger 2.0 file is refused with the reason; nothing is written.
  await browser.$('[data-testid="tool-source-add-open"]').click();
  await fillIn('[data-testid="tool-source-name"]', "old");
  await fillIn('[data-testid="tool-source-target"]', join(work, "old.yaml"));
  await browser.$('[data-testid="tool-source-add-submit"]').click();
  const refused = await browser.$('[data-testid="tool-source-error"]');
  await refused.waitForDisplayed({ timeout: 20_000 });
  assert.match(await refused.getText(), /Swagger 2\.0 is not supported/);
  assert.equal(await readFile(join(home, "config.toml"), "utf8"), configBefore, "a refused spec changes nothing");

  // A working spec: its operation becomes a tool.
  await fillIn('[data-testid="tool-source-name"]', "pets");
  await fillIn('[data-testid="tool-source-target"]', join(work, "pets.yaml"));
  await browser.$('[data-testid="tool-source-add-submit"]').click();
  const message = await browser.$('[data-testid="tool-source-message"]');
  await message.waitForDisplayed({ timeout: 20_000 });
  assert.match(await message.getText(), /added pets: 1 tool \(pets\.listPets\)/);
  await browser.$('[data-testid="tool-row"] [title="pets.listPets"]').waitForExist({ timeout: 10_000 });

  // An MCP server that cannot start is refused with its output; one that
  // starts (CodexOS's own `codexos mcp`) is added with its tools.
  await browser.$('[data-testid="tool-source-add-open"]').click();
  await browser.$('[data-testid="tool-source-kind"]').selectByAttribute("value", "mcp-command");
  await fillIn('[data-testid="tool-source-name"]', "broken");
  await fillIn('[data-testid="tool-source-target"]', `'${cli}' no-such-command`);
  await browser.$('[data-testid="tool-source-add-submit"]').click();
  await refused.waitForDisplayed({ timeout: 30_000 });
  assert.match(await refused.getText(), /MCP server `broken`/);
  await fillIn('[data-testid="tool-source-name"]', "self");
  await fillIn('[data-testid="tool-source-target"]', `'${cli}' mcp`);
  await browser.$('[data-testid="tool-source-add-submit"]').click();
  await browser.waitUntil(async () => /added self: \d+ tools \(.*self\.search/.test(await message.getText()), {
    timeout: 30_000,
    timeoutMsg: "the MCP server was not added",
  });
  await browser.$('[data-testid="tool-row"] [title="self.search"]').waitForExist({ timeout: 20_000 });
  let config = await readFile(join(home, "config.toml"), "utf8");
  assert.match(config, /\[\[tools\.openapi\]\]\s*name = "pets"/);
  assert.match(config, /\[\[tools\.mcp\]\]\s*name = "self"/);
  assert.doesNotMatch(config, /name = "(old|broken)"/);
  await screenshot("settings-tools-added");

  // Removed: out of config.toml, the server stopped, the tools gone.
  for (const name of ["self", "pets"]) {
    await browser.$(`[data-testid="tool-source"][data-source$=":${name}"] [data-testid="tool-source-remove"]`).click();
    await browser.$('[data-testid="tool-source-remove-confirm"]').click();
    await browser.waitUntil(async () => !(await browser.$(`[data-testid="tool-source"][data-source$=":${name}"]`).isExisting()), {
      timeout: 20_000,
      timeoutMsg: `${name} is still listed`,
    });
  }
  assert.ok(!(await browser.$('[data-testid="tool-row"] [title="self.search"]').isExisting()));
  config = await readFile(join(home, "config.toml"), "utf8");
  assert.doesNotMatch(config, /name = "(pets|self)"/);
  await browser.$('button[aria-label="Close settings"]').click();
});

test("a provider is added from the form with its key in the vault, answers its test, and is removed", async () => {
  const cli = join(dirname(app), "codexos");
  const serverHome = await mkdtemp(join(tmpdir(), "codexos-served-"));
  // A real OpenAI-compatible server: `codexos serve --openai` on the local model.
  const server = spawn(cli, ["--json", "serve", "--openai", "--port", "0"], {
    env: { ...process.env, CODEXOS_HOME: serverHome },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise((resolve, reject) => {
      let buffered = "";
      server.stdout.on("data", (chunk) => {
        buffered += chunk;
        const line = buffered.split("\n")[0];
        if (buffered.includes("\n")) resolve(JSON.parse(line).url);
      });
      server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    });
    await browser.$('[data-testid="open-settings"]').click();
    await browser.$('[data-testid="provider-row"]').waitForDisplayed({ timeout: 10_000 });
    const before = (await browser.$$('[data-testid="provider-row"]')).length;
    await browser.$('[data-testid="provider-add-open"]').click();
    await browser.$("#provider-preset").selectByAttribute("value", "vllm");
    await fillIn('[data-testid="provider-name"]', "served");
    await fillIn('[data-testid="provider-url"]', url);
    await fillIn('[data-testid="provider-model"]', "codexos");
    await fillIn("#provider-key-name", "SERVED_KEY");
    await fillIn("#provider-key", secret);
    await browser.$('[data-testid="provider-add-submit"]').click();
    const result = await browser.$('[data-testid="provider-add-result"]');
    await result.waitForDisplayed({ timeout: 120_000 });
    await browser.waitUntil(async () => /test answered in \d+ ms/.test(await result.getText()), {
      timeout: 120_000,
      timeoutMsg: `the new provider's test did not answer: ${await result.getText()}`,
    });
    const rows = await browser.$$('[data-testid="provider-row"]');
    assert.equal(rows.length, before + 1);
    const served = rows[rows.length - 1];
    assert.match(await served.getText(), /served[\s\S]*key “SERVED_KEY” stored in the vault/);
    let config = await readFile(join(process.env.CODEXOS_HOME, "config.toml"), "utf8");
    assert.match(config, /\[\[providers\]\]\s*name = "served"/);
    assert.match(config, /key = "SERVED_KEY"/);
    assert.ok(!config.includes(secret), "the key never lands in config.toml");
    await screenshot("settings-provider-added");
    await served.$('[data-testid="provider-remove"]').click();
    await browser.$('[data-testid="provider-remove-with-key"]').click();
    await browser.waitUntil(async () => (await browser.$$('[data-testid="provider-row"]')).length === before, {
      timeout: 10_000,
      timeoutMsg: "the provider is still listed",
    });
    config = await readFile(join(process.env.CODEXOS_HOME, "config.toml"), "utf8");
    assert.doesNotMatch(config, /served/);
    // Its key went with it (asked for): the vault no longer lists it.
    await browser.$("button=vault").click();
    await browser.$('[data-testid="vault-name"]').waitForDisplayed({ timeout: 10_000 });
    assert.ok(!(await browser.$('[data-testid="vault"]').getText()).includes("SERVED_KEY"), "the key stayed in the vault");
    await browser.$('button[aria-label="Close settings"]').click();
  } finally {
    server.kill();
    await rm(serverHome, { recursive: true, force: true });
  }
});

test("settings → vault stores a secret, shows it only when revealed, rotates the key and deletes it", async () => {
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$("button=vault").click();
  await browser.$('[data-testid="vault"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="vault-name"]').setValue("e2e-token");
  await browser.$('[data-testid="vault-new-value"]').setValue(secret);
  await browser.$('[data-testid="vault-add"]').click();
  // Its own row: other tests' secrets may be listed too.
  const mine = '[data-testid="vault-secret"][data-name="e2e-token"]';
  const row = await browser.$(mine);
  await row.waitForDisplayed({ timeout: 10_000 });
  assert.ok(!(await browser.$('[data-testid="vault"]').getProperty("textContent")).includes(secret), "hidden until revealed");
  await browser.$(`${mine} [data-testid="vault-reveal"]`).click();
  try {
    // textContent: WebKit's driver leaves truncated (overflow-hidden) text out of getText.
    await browser.waitUntil(async () => (await browser.$(`${mine} [data-testid="vault-value"]`).getProperty("textContent")) === secret, {
      timeout: 10_000,
    });
  } catch {
    await screenshot("settings-vault-failed");
    throw new Error(`the revealed value did not show: ${await browser.$('[data-testid="vault"]').getText()}`);
  }
  await screenshot("settings-vault");
  await browser.$(`${mine} [data-testid="vault-reveal"]`).click();
  await browser.$('[data-testid="vault-rotate"]').click();
  const notice = await browser.$('[data-testid="vault-notice"]');
  await browser.waitUntil(async () => (await notice.getText()).includes("re-wrapped"), {
    timeout: 20_000,
    timeoutMsg: "the rotation did not report",
  });
  await browser.$(`${mine} [data-testid="vault-delete"]`).click();
  await browser.$(`${mine} [data-testid="vault-delete"]`).click();
  await browser.waitUntil(async () => !(await browser.$(mine).isExisting()), {
    timeout: 10_000,
    timeoutMsg: "the secret was not deleted",
  });
  // The audit log has it all, from the app, and its chain holds.
  await browser.$("button=audit").click();
  await browser.$('[data-testid="audit-tab"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$('[data-testid="audit-action"]').selectByAttribute("value", "secret");
  await fill(await browser.$('[data-testid="audit-search"]'), "e2e-token");
  const actions = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="audit-entry"]')].map((row) => `${row.dataset.action} ${row.children[3].textContent}`));
  await browser.waitUntil(async () => (await actions()).join(",") === "secret.delete app,secret.use app,secret.set app", {
    timeout: 10_000,
    timeoutMsg: `the vault's changes are not in the audit log: ${await actions()}`,
  });
  await browser.$('[data-testid="audit-verify"]').click();
  const check = await browser.$('[data-testid="audit-check"]');
  await check.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await check.getAttribute("data-whole"), "true", await check.getText());
  await screenshot("settings-audit");
  await browser.$('button[aria-label="Close settings"]').click();
});

test("settings → telemetry adds an OTLP endpoint after a test export, the app sends a run's spans to it, and a dead one keeps its runs waiting", async () => {
  const cli = join(dirname(app), "codexos");
  const receiverHome = await mkdtemp(join(tmpdir(), "codexos-otlp-"));
  // A real OTLP/HTTP receiver decoding the protobuf: `codexos otel receive`.
  const receiver = spawn(cli, ["--json", "otel", "receive", "--port", "0"], {
    env: { ...process.env, CODEXOS_HOME: receiverHome },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const spans = [];
  try {
    const url = await new Promise((resolve, reject) => {
      let buffered = "";
      receiver.stdout.on("data", (chunk) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop();
        for (const line of lines) {
          const parsed = JSON.parse(line);
          if (parsed.url) resolve(parsed.url);
          else spans.push(parsed);
        }
      });
      receiver.on("exit", (code) => reject(new Error(`otel receive exited with ${code}`)));
    });
    const flow = {
      version: 2,
      name: "e2e-traced",
      state: { greeting: "string" },
      nodes: [
        { id: "start", kind: "input", position: { x: 0, y: 0 } },
        { id: "say", kind: "transform", set: { greeting: "'hello'" }, position: { x: 0, y: 120 } },
        { id: "done", kind: "output", keys: ["greeting"], position: { x: 0, y: 240 } },
      ],
      edges: [
        { from: "start", to: "say" },
        { from: "say", to: "done" },
      ],
    };
    await writeFile(join(process.env.CODEXOS_HOME, "flows", "e2e-traced.flow.json"), JSON.stringify(flow));
    await browser.refresh();
    await browser.$('[data-testid="open-settings"]').waitForDisplayed({ timeout: 20_000 });
    await browser.$('[data-testid="open-settings"]').click();
    await browser.$("button=telemetry").click();
    await browser.$('[data-testid="telemetry"]').waitForDisplayed({ timeout: 10_000 });
    await browser.$('[data-testid="otlp-none"]').waitForDisplayed({ timeout: 10_000 });
    const add = async (name, endpoint, unchecked) => {
      await fillIn('[data-testid="otlp-name"]', name);
      await fillIn('[data-testid="otlp-url"]', endpoint);
      const box = await browser.$('[data-testid="otlp-unchecked"]');
      if ((await box.isSelected()) !== unchecked) await box.click();
      await browser.$('[data-testid="otlp-add-submit"]').click();
      await browser.$(`[data-testid="otlp-endpoint"][data-name="${name}"]`).waitForDisplayed({
        timeout: 20_000,
        timeoutMsg: `${name} was not added: ${await browser.$('[data-testid="otlp-add"]').getText()}`,
      });
    };
    // A dead URL is refused by the test export (positive control of the
    // check), then added on purpose without it.
    const dead = `http://127.0.0.1:${await freePort()}`;
    await fillIn('[data-testid="otlp-name"]', "e2e-down");
    await fillIn('[data-testid="otlp-url"]', dead);
    await browser.$('[data-testid="otlp-add-submit"]').click();
    const refused = await browser.$('[data-testid="otlp-add-result"]');
    await browser.waitUntil(async () => /could not be reached/.test(await refused.getText()), { timeout: 20_000, timeoutMsg: "a dead endpoint was not refused" });
    await add("e2e-collector", url, false);
    await add("e2e-down", dead, true);
    const config = await readFile(join(process.env.CODEXOS_HOME, "config.toml"), "utf8");
    assert.match(config, /\[\[otlp\]\]\s*name = "e2e-collector"/);
    await browser.$('button[aria-label="Close settings"]').click();

    const picker = await browser.$('[data-testid="flow-picker"]');
    await browser.waitUntil(async () => (await picker.getText()).includes("e2e-traced"), { timeout: 10_000 });
    await picker.selectByAttribute("value", "e2e-traced");
    const run = await browser.$('[data-testid="flow-run"]');
    await browser.waitUntil(async () => run.isEnabled(), { timeout: 10_000 });
    await run.click();
    await browser.waitUntil(async () => (await browser.$('[data-testid="run-panel"]').getAttribute("data-finished")) === "succeeded", { timeout: 60_000, timeoutMsg: "the traced flow did not succeed" });
    // The app sends in the background: the run's spans arrive.
    await browser.waitUntil(async () => spans.some((span) => span.name === "invoke_workflow e2e-traced"), {
      timeout: 30_000,
      timeoutMsg: `the run's spans did not arrive: ${JSON.stringify(spans.map((span) => span.name))}`,
    });
    assert.ok(spans.some((span) => span.name === "transform say"), "the node's span too");

    await browser.$('[data-testid="open-settings"]').click();
    await browser.$("button=telemetry").click();
    const live = await browser.$('[data-testid="otlp-endpoint"][data-name="e2e-collector"]');
    const down = await browser.$('[data-testid="otlp-endpoint"][data-name="e2e-down"]');
    await browser.waitUntil(async () => Number(await live.getAttribute("data-sent")) >= 1 && Number(await down.getAttribute("data-pending")) >= 1 && (await down.$('[data-testid="otlp-error"]').isExisting()), {
      timeout: 30_000,
      timeoutMsg: `the figures did not show: ${await browser.$('[data-testid="telemetry"]').getText()}`,
    });
    assert.match(await down.$('[data-testid="otlp-error"]').getText(), /could not be reached/);
    await screenshot("settings-telemetry");
    for (const name of ["e2e-collector", "e2e-down"]) {
      const remove = await browser.$(`[data-testid="otlp-endpoint"][data-name="${name}"] [data-testid="otlp-remove"]`);
      await remove.click();
      await remove.click();
      await browser.waitUntil(async () => !(await browser.$(`[data-testid="otlp-endpoint"][data-name="${name}"]`).isExisting()), { timeout: 10_000, timeoutMsg: `${name} was not removed` });
    }
    await browser.$('button[aria-label="Close settings"]').click();
  } finally {
    receiver.kill();
    await rm(receiverHome, { recursive: true, force: true });
  }
});

test("an ask tool in a flow waits for the dialog: allowed it runs, denied the run says so", async () => {
  const flow = {
    version: 2,
    name: "shell-step",
    state: { out: "any" },
    nodes: [
      { id: "start", kind: "input", position: { x: 0, y: 0 } },
      { id: "sh", kind: "tool", tool: "shell", args: { command: "echo approved-by-dialog" }, output: "out", position: { x: 0, y: 120 } },
      { id: "done", kind: "output", keys: ["out"], position: { x: 0, y: 240 } },
    ],
    edges: [
      { from: "start", to: "sh" },
      { from: "sh", to: "done" },
    ],
  };
  await writeFile(join(process.env.CODEXOS_HOME, "flows", "shell-step.flow.json"), JSON.stringify(flow));
  await browser.refresh();
  const picker = await browser.$('[data-testid="flow-picker"]');
  await picker.waitForDisplayed({ timeout: 20_000 });
  await browser.waitUntil(async () => (await picker.getText()).includes("shell-step"), { timeout: 10_000 });
  await picker.selectByAttribute("value", "shell-step");
  const panel = await browser.$('[data-testid="run-panel"]');
  for (const [button, expected] of [
    ["allow-tool", "succeeded"],
    ["deny-tool", "failed"],
  ]) {
    const run = await browser.$('[data-testid="flow-run"]');
    await browser.waitUntil(async () => run.isEnabled(), { timeout: 10_000, timeoutMsg: "shell-step does not pass its check" });
    await run.click();
    const dialog = await browser.$('[data-testid="tool-approval"]');
    await dialog.waitForDisplayed({ timeout: 20_000 });
    assert.match(await browser.$('[data-testid="approval-arguments"]').getText(), /approved-by-dialog/);
    if (button === "allow-tool") await screenshot("tool-approval");
    await browser.$(`[data-testid="${button}"]`).click();
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === expected, {
      timeout: 60_000,
      timeoutMsg: `the run did not end ${expected}: ${await browser.$('[data-testid="run-log"]').getText()}`,
    });
    // (Log lines truncate, which hides their text from getText; the title carries it.)
    if (expected === "failed") assert.ok(await browser.$('[data-testid="run-log"] [title*="declined in the app"]').isExisting());
  }

  // A permission changed in Settings → Tools is obeyed from the next call:
  // allow runs without the dialog, deny refuses; default brings the dialog back.
  const setShell = async (level) => {
    await browser.$('[data-testid="open-settings"]').click();
    await browser.$('[data-testid="settings"]').waitForDisplayed({ timeout: 10_000 });
    await browser.$("button=tools").click();
    const select = await browser.$('[data-testid="tool-permission"][data-tool="shell"]');
    await select.waitForDisplayed({ timeout: 20_000 });
    await select.selectByAttribute("value", level);
    const effective = level === "" ? "ask" : level;
    await browser.waitUntil(async () => (await browser.$('[data-testid="tool-permission"][data-tool="shell"]').getAttribute("data-effective")) === effective, {
      timeout: 10_000,
      timeoutMsg: `shell did not become ${effective}`,
    });
    if (level === "deny") await screenshot("tool-permissions");
    await browser.$('button[aria-label="Close settings"]').click();
  };
  for (const [level, expected] of [
    ["allow", "succeeded"],
    ["deny", "failed"],
  ]) {
    await setShell(level);
    const run = await browser.$('[data-testid="flow-run"]');
    await browser.waitUntil(async () => run.isEnabled(), { timeout: 10_000 });
    await run.click();
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === expected, {
      timeout: 60_000,
      timeoutMsg: `with shell at ${level} the run did not end ${expected}: ${await browser.$('[data-testid="run-log"]').getText()}`,
    });
    assert.ok(!(await browser.$('[data-testid="tool-approval"]').isDisplayed()), `no dialog with shell at ${level}`);
    if (level === "deny") assert.ok(await browser.$('[data-testid="run-log"] [title*="denied by the tool policy"]').isExisting());
  }
  await setShell("");
  // Back to the default: the dialog asks again.
  const again = await browser.$('[data-testid="flow-run"]');
  await browser.waitUntil(async () => again.isEnabled(), { timeout: 10_000 });
  await again.click();
  await browser.$('[data-testid="tool-approval"]').waitForDisplayed({ timeout: 20_000 });
  await browser.$('[data-testid="deny-tool"]').click();
  await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "failed", { timeout: 60_000, timeoutMsg: "the denied run did not end" });
  const config = await readFile(join(process.env.CODEXOS_HOME, "config.toml"), "utf8");
  assert.ok(!/^shell = /m.test(config) && !config.includes('"shell" ='), `the rule is gone from config.toml:\n${config}`);
});

test("the isolation hook lets the app's commands through and refuses any other command or plugin", async () => {
  // Straight at the IPC, as a compromised dependency in the page would call it.
  const outcome = await browser.executeAsync((done) => {
    const invoke = window.__TAURI_INTERNALS__.invoke;
    const attempt = (cmd, args) =>
      invoke(cmd, args ?? {}).then(
        (value) => ({ ok: true, value }),
        (error) => ({ ok: false, error: String(error?.message ?? error) }),
      );
    Promise.all([
      attempt("app_info"),
      attempt("definitely_not_a_command"),
      attempt("plugin:path|resolve_directory", { directory: 1 }),
      // How the window fetches a Channel message of 8 KiB or more: it must
      // pass the hook (the core answers it, here that there is no such message).
      attempt("plugin:__TAURI_CHANNEL__|fetch", {}),
    ]).then(([own, unknown, plugin, channel]) => done({ own, unknown, plugin, channel }));
  });
  // Positive control: the app's own command passes the hook and answers.
  assert.equal(outcome.own.ok, true, JSON.stringify(outcome));
  assert.ok(outcome.own.value && typeof outcome.own.value === "object", JSON.stringify(outcome));
  for (const [name, refused] of [
    ["an unknown command", outcome.unknown],
    ["a plugin command the capabilities do not grant", outcome.plugin],
  ]) {
    assert.equal(refused.ok, false, `${name} went through: ${JSON.stringify(outcome)}`);
    // The hook renamed it: the core saw the refusal, not the command.
    assert.match(refused.error, /refused_by_the_isolation_hook/, `${name}: ${refused.error}`);
  }
  assert.doesNotMatch(JSON.stringify(outcome.channel), /refused_by_the_isolation_hook/, JSON.stringify(outcome.channel));
});

test("a project is ingested again, then removed with its chunks", async () => {
  const project = await browser.$('[data-testid="project"]');
  await project.waitForDisplayed({ timeout: 10_000 });
  const name = (await project.getAttribute("title")).split("/").pop();
  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  await project.click();
  await browser.$('[data-testid="project-reingest"]').click();
  const status = await browser.$('[data-testid="ingest-status"]');
  await browser.waitUntil(async () => (await status.getAttribute("data-status")) === "done", { timeout: 120_000, timeoutMsg: "the re-ingest did not finish" });
  assert.match(await browser.$('[data-testid="ingest-report"]').getText(), /unchanged/);
  await browser.$('[data-testid="project-remove"]').click();
  await browser.$('[data-testid="project-remove-confirm"]').click();
  await browser.waitUntil(async () => (await browser.$$('[data-testid="project"]')).length === 0, { timeout: 10_000, timeoutMsg: "the project is still listed" });
  assert.match(await browser.$('[data-testid="project-removed"]').getText(), new RegExp(`removed ${name}: \\d+ chunks deleted`));
  await screenshot("project-removed");
  // Nothing of it is found any more.
  await browser.$('[data-testid="open-search"]').click();
  await browser.$('[data-testid="search-query"]').setValue("default port");
  await browser.keys(["Enter"]);
  await browser.waitUntil(async () => /no match|nothing|0 result/i.test(await browser.$('[data-testid="search-panel"]').getText()), { timeout: 10_000, timeoutMsg: "the removed project still answers searches" });
  await browser.$('[data-testid="close-search"]').click();
});

/** Drops paths onto the window as the OS does: Tauri's drag-drop event to
 * the main webview (WebDriver cannot drive a native file drag itself). */
async function dropPaths(paths) {
  const outcome = await browser.executeAsync((dropped, done) => {
    window.__TAURI_INTERNALS__
      .invoke("plugin:event|emit_to", {
        target: { kind: "AnyLabel", label: "main" },
        event: "tauri://drag-drop",
        payload: { paths: dropped, position: { x: 200, y: 200 } },
      })
      .then(() => done("sent"), (error) => done(`refused: ${error}`));
  }, paths);
  assert.equal(outcome, "sent");
}

test("several folders and single files dropped at once: folders become projects, files go into “files”, a binary is refused", async () => {
  const work = dirname(process.env.CODEXOS_HOME);
  const first = join(work, "drop-alpha");
  const second = join(work, "drop-beta");
  await mkdir(first, { recursive: true });
  await mkdir(second, { recursive: true });
  await writeFile(join(first, "alpha.md"), "# Alpha\n\nThe alpha folder talks about heliotrope gardens.\n");
  await writeFile(join(second, "beta.md"), "# Beta\n\nThe beta folder talks about copper kettles.\n");
  const notes = join(work, "drop-notes.md");
  await writeFile(notes, "# Notes\n\nA single dropped note about saffron.\n");
  const pdf = new URL("../../crates/test-support/fixtures/formats/manual.pdf", import.meta.url).pathname;
  const binary = join(fixture, "docs", "logo.png");
  // The panel listens for drops once it is shown.
  await browser.$('[data-testid="project-list"]').waitForDisplayed({ timeout: 20_000 });
  await browser.pause(500);
  const before = (await browser.$$('[data-testid="project"]')).length;
  await dropPaths([first, notes, second, pdf, binary]);
  await browser
    .waitUntil(
    async () => {
      const titles = [];
      for (const project of await browser.$$('[data-testid="project"]')) titles.push(await project.getAttribute("title"));
      return titles.includes(first) && titles.includes(second) && titles.some((title) => title?.endsWith("/files"));
    },
      { timeout: 180_000, timeoutMsg: "the dropped folders and files did not all become projects" },
    )
    .catch(async (error) => {
      await screenshot("dropped-files-failed");
      throw error;
    });
  assert.equal((await browser.$$('[data-testid="project"]')).length, before + 3);
  const note = await browser.$('[data-testid="drop-note"]');
  await note.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await note.getText(), "Not ingested: logo.png (binary file)");
  // `files` is selected: its tree lists the two copies, not the binary.
  const tree = await browser.$('[data-testid="file-tree"]');
  await browser.waitUntil(async () => /Files in files/i.test(await tree.getText()), { timeout: 20_000, timeoutMsg: "the files project is not selected" });
  await browser.$('[data-testid="project-file"][data-path="manual.pdf"]').waitForExist({ timeout: 20_000 });
  assert.ok(await browser.$('[data-testid="project-file"][data-path="drop-notes.md"]').isExisting());
  assert.equal((await browser.$$('[data-testid="project-file"]')).length, 2, "the binary was not kept");
  await screenshot("dropped-files");
  // A drop of nothing but a binary (and a hidden file) says why, and keeps nothing.
  const hidden = join(work, ".drop-hidden.md");
  await writeFile(hidden, "# Hidden\n");
  const kept = (await readdir(join(process.env.CODEXOS_HOME, "files"))).sort();
  await dropPaths([binary, hidden]);
  const status = await browser.$('[data-testid="ingest-status"]');
  await browser.waitUntil(async () => (await status.getAttribute("data-status")) === "error", { timeout: 20_000, timeoutMsg: "the binary-only drop did not fail" });
  assert.match(await status.getText(), /nothing was ingested — .*logo\.png: binary file.*\.drop-hidden\.md: hidden files/s);
  assert.deepEqual((await readdir(join(process.env.CODEXOS_HOME, "files"))).sort(), kept, "nothing of a refused drop is kept");
});

/** Serious and critical axe-core violations inside `selector` (the whole page by default). */
async function accessibilityProblems(selector = "body") {
  const source = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await browser.execute(() => typeof window.axe === "object"))) {
    await browser.execute(`${source};\nwindow.axe = axe;`);
  }
  return browser.executeAsync((scope, done) => {
    const root = document.querySelector(scope);
    if (!root) return done([`nothing to check: ${scope} is not in the page`]);
    window.axe
      .run(root, { resultTypes: ["violations"] })
      .then((result) =>
        done(
          result.violations
            .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
            .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.slice(0, 4).map((node) => node.target.join(" ")).join(" | ")}`),
        ),
      )
      .catch((error) => done([`axe failed: ${error}`]));
  }, selector);
}

test("a bundle is exported signed, a tampered copy refused, then verified with its signer and imported after trusting it", async () => {
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$('[data-testid="settings"]').waitForDisplayed({ timeout: 10_000 });
  await browser.$("button=bundles").click();
  const tab = await browser.$('[data-testid="bundles-tab"]');
  await tab.waitForDisplayed({ timeout: 10_000 });
  // This home's keys.
  await fill(await browser.$('[data-testid="bundle-signer-name"]'), "E2E Signer");
  await browser.$('[data-testid="bundle-generate"]').click();
  const identity = await browser.$('[data-testid="bundle-identity"]');
  await identity.waitForDisplayed({ timeout: 10_000 });
  const fingerprint = (await identity.getText()).match(/fingerprint ([0-9a-f]{32})/)[1];
  // Export a flow and an agent, signed.
  await browser.$('[data-testid="bundle-flow"][data-flow="rag-qa"]').click();
  await browser.$('[data-testid="bundle-agent"][data-agent="planner@1.0.0"]').click();
  await fill(await browser.$('[data-testid="bundle-name"]'), "e2e-share");
  await browser.$('[data-testid="bundle-export"]').click();
  const exported = await browser.$('[data-testid="bundle-export-note"]');
  await browser.waitUntil(async () => /Wrote .*e2e-share\.codexos-bundle/.test(await exported.getText()), { timeout: 10_000, timeoutMsg: "the bundle was not written" });
  const file = (await exported.getText()).replace(/^Wrote /, "").trim();
  // One character changed: refused, nothing imported.
  const tampered = join(process.env.CODEXOS_HOME, "tampered.codexos-bundle");
  const text = await readFile(file, "utf8");
  assert.ok(text.includes("Answer from the excerpts only"), "positive control: the phrase to alter is in the bundle");
  await writeFile(tampered, text.replace("Answer from the excerpts only", "Answer from the excerpts onlY"));
  await fill(await browser.$('[data-testid="bundle-path"]'), tampered);
  await browser.$('[data-testid="bundle-verify"]').click();
  const note = await browser.$('[data-testid="bundle-import-note"]');
  await browser.waitUntil(async () => /altered after it was signed/.test(await note.getText()), { timeout: 10_000, timeoutMsg: "the tampered bundle was not refused" });
  // The real one: signed by a key not on the trust list; trusting imports it.
  await fill(await browser.$('[data-testid="bundle-path"]'), file);
  await browser.$('[data-testid="bundle-verify"]').click();
  const check = await browser.$('[data-testid="bundle-check"]');
  await check.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await check.getAttribute("data-trusted"), "false");
  assert.match(await check.getText(), new RegExp(`Signed by E2E Signer, fingerprint ${fingerprint}`));
  assert.match(await check.getText(), /flow rag-qa, agent planner@1\.0\.0/);
  await screenshot("bundle-verify");
  // The file is replaced after it was verified (here: exported again,
  // unsigned, under the same name): trusting and importing is refused.
  await browser.$('[data-testid="bundle-signed"]').click();
  await browser.$('[data-testid="bundle-export"]').click();
  await browser.waitUntil(async () => (await readFile(file, "utf8")) !== text, { timeout: 10_000, timeoutMsg: "the bundle was not exported again" });
  const unsigned = await readFile(file, "utf8");
  await browser.$('[data-testid="bundle-trust-import"]').click();
  await browser.waitUntil(async () => /the file changed since; verify it again/.test(await note.getText()), { timeout: 10_000, timeoutMsg: `a replaced file was imported: ${await note.getText()}` });
  assert.equal((await browser.$$('[data-testid="bundle-trusted"]')).length, 0, "nobody was trusted");
  // Signed again, verified again, trusted and imported.
  await browser.$('[data-testid="bundle-signed"]').click();
  await browser.$('[data-testid="bundle-export"]').click();
  await browser.waitUntil(async () => (await readFile(file, "utf8")) !== unsigned, { timeout: 10_000, timeoutMsg: "not exported signed again" });
  await browser.$('[data-testid="bundle-verify"]').click();
  await browser.waitUntil(async () => (await browser.$('[data-testid="bundle-check"]').getAttribute("data-signed")) === "true", { timeout: 10_000, timeoutMsg: "the signed bundle did not verify" });
  await browser.$('[data-testid="bundle-trust-import"]').click();
  await browser.waitUntil(async () => /Imported 1 flow\(s\), agents planner@1\.0\.0; the signer is now trusted/.test(await note.getText()), { timeout: 10_000, timeoutMsg: `not imported: ${await note.getText()}` });
  assert.equal(await browser.$('[data-testid="bundle-check"]').getAttribute("data-trusted"), "true");
  assert.match(await browser.$('[data-testid="bundle-trusted"]').getText(), new RegExp(fingerprint));
  await browser.$('button[aria-label="Close settings"]').click();
  // The imported flow is a fork of the bundle's: the canvas shows where it came from and who signed it.
  await browser.$('[data-testid="flow-picker"]').selectByAttribute("value", "rag-qa");
  await browser.waitUntil(async () => (await browser.$('[data-testid="flow-lineage"]').isExisting()) && (await browser.$('[data-testid="flow-lineage"]').getText()).includes(`› rag-qa, signed by ${fingerprint}`), { timeout: 10_000, timeoutMsg: "the imported flow shows no lineage" });
  assert.match(await browser.$('[data-testid="flow-lineage"]').getText(), /^forked from bundle:/);
});

test("the theme follows the OS, switches to light and dark, is remembered, and light passes the accessibility check", async () => {
  const shown = () => browser.execute(() => document.documentElement.dataset.theme);
  const background = () =>
    browser.execute(() => {
      // Lightness from 0 to 1: WebKit reports the palette's colours as lab(L …) or rgb(…).
      const colour = getComputedStyle(document.body).backgroundColor;
      const numbers = colour.match(/[\d.]+/g).map(Number);
      if (colour.startsWith("lab(") || colour.startsWith("oklab(")) return colour.startsWith("lab(") ? numbers[0] / 100 : numbers[0];
      const [r, g, b] = numbers;
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    });
  const os = await browser.execute(() => (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  const toggle = await browser.$('[data-testid="theme-toggle"]');
  assert.equal(await toggle.getAttribute("data-theme-choice"), "system");
  assert.equal(await shown(), os, "by default the theme is the OS's");
  await toggle.click();
  assert.equal(await shown(), "light");
  assert.ok((await background()) > 0.8, `a light background: ${await background()}`);
  await screenshot("theme-light");
  const problems = await accessibilityProblems("body");
  assert.deepEqual(problems, [], `light theme:\n${problems.join("\n")}`);
  // Remembered across a reload.
  await browser.refresh();
  await browser.$('[data-testid="theme-toggle"]').waitForDisplayed({ timeout: 20_000 });
  assert.equal(await browser.$('[data-testid="theme-toggle"]').getAttribute("data-theme-choice"), "light", "the pick, not the OS, after a reload");
  assert.equal(await shown(), "light");
  await browser.$('[data-testid="theme-toggle"]').click();
  assert.equal(await shown(), "dark");
  assert.ok((await background()) < 0.2, `a dark background: ${await background()}`);
  await browser.$('[data-testid="theme-toggle"]').click();
  assert.equal(await browser.$('[data-testid="theme-toggle"]').getAttribute("data-theme-choice"), "system");
  assert.equal(await shown(), os);
});

test("every panel passes an automated accessibility check (axe-core: no serious or critical violations)", async () => {
  const found = {};
  const check = async (name, selector) => {
    const problems = await accessibilityProblems(selector);
    // Positive control: axe ran (it returns an array, empty or not).
    assert.ok(Array.isArray(problems), `${name}: axe did not run`);
    if (problems.length > 0) found[name] = problems;
  };
  // Positive control: a button without a name, planted for a moment, is caught.
  await browser.execute(() => {
    const wrap = document.createElement("div");
    wrap.id = "axe-control";
    wrap.innerHTML = "<button></button>";
    document.body.appendChild(wrap);
  });
  const planted = await accessibilityProblems("#axe-control");
  await browser.execute(() => document.getElementById("axe-control")?.remove());
  assert.ok(planted.some((problem) => problem.startsWith("button-name")), `the check cannot fail: ${planted}`);

  const closePreview = await browser.$('button[aria-label="Close preview"]');
  if (await closePreview.isExisting()) await closePreview.click();
  await check("main window", "body");
  await browser.$('[data-testid="open-settings"]').click();
  await browser.$('[data-testid="settings"]').waitForDisplayed({ timeout: 10_000 });
  for (const tab of ["providers", "models", "tools", "vault", "telemetry", "bundles", "logs"]) {
    await browser.$(`button=${tab}`).click();
    await browser.pause(500);
    await check(`settings → ${tab}`, '[data-testid="settings"]');
  }
  await browser.$('button[aria-label="Close settings"]').click();
  await browser.$('[data-testid="open-search"]').click();
  await browser.$('[data-testid="search-panel"]').waitForDisplayed({ timeout: 10_000 });
  await check("search", '[data-testid="search-panel"]');
  await browser.$('[data-testid="close-search"]').click();
  await browser.$('[data-testid="open-analytics"]').click();
  await browser.$('[data-testid="analytics-totals"]').waitForDisplayed({ timeout: 30_000 });
  await check("analytics", '[data-testid="analytics-panel"]');
  await browser.$('button[aria-label="Close analytics"]').click();
  await browser.$('[data-testid="open-agents"]').click();
  await browser.$('[data-testid="agents-panel"]').waitForDisplayed({ timeout: 10_000 });
  await check("agents", '[data-testid="agents-panel"]');
  await browser.$('button[aria-label="Close agents"]').click();
  await browser.$('[data-testid="open-team"]').click();
  await browser.$('[data-testid="team-panel"]').waitForDisplayed({ timeout: 10_000 });
  await check("team server", '[data-testid="team-panel"]');
  await browser.$('button[aria-label="Close team panel"]').click();
  await browser.$('[data-testid="conversations-toggle"]').click();
  await browser.$('[data-testid="conversation-list"]').waitForDisplayed({ timeout: 10_000 });
  await check("conversations", '[data-testid="conversation-list"]');
  await browser.$('button[aria-label="Close conversations"]').click();
  await browser.$('[data-testid="open-palette"]').click();
  await browser.$('[data-testid="command-palette"]').waitForDisplayed({ timeout: 10_000 });
  await check("command palette", '[data-testid="command-palette"]');
  await browser.keys(["Escape"]);
  await browser.$('[data-testid="flow-new"]').click();
  await browser.$('[data-testid="flow-name-dialog"]').waitForDisplayed({ timeout: 10_000 });
  await check("new flow dialog", '[data-testid="flow-name-dialog"]');
  await browser.keys(["Escape"]);
  await browser.$('[data-testid="open-versions"]').click();
  await browser.$('[data-testid="versions-panel"]').waitForDisplayed({ timeout: 10_000 });
  await check("versions", '[data-testid="versions-panel"]');
  await browser.$('button[aria-label="Close versions"]').click();
  await selectNode('[data-testid="flow-node-input"]');
  await check("node inspector", '[data-testid="inspector"]');
  assert.deepEqual(found, {}, JSON.stringify(found, null, 2));
});

/** `codexos ARGS` (the CLI next to the app) with `input` on stdin: its stdout. */
function codexos(args, env, input = "") {
  const cli = join(dirname(app), "codexos");
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`codexos ${args.join(" ")} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** `codexos server` on `home` (`--bind` and other flags in `flags`): the
 * process and its URL, from the first line it prints. */
async function serveTeam(home, env, flags = ["--bind", "127.0.0.1:0"]) {
  const server = spawn(join(dirname(app), "codexos"), ["--json", ...home, ...flags], { env, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    server.stdout.once("data", (chunk) => resolve(JSON.parse(String(chunk).split("\n")[0]).url));
    server.on("exit", (code) => reject(new Error(`codexos server exited with ${code}`)));
  });
  return { server, url };
}

/** The team server's API with an owner's token: the answer's JSON, the
 * call asserted to succeed. */
function bearerApi(url, token) {
  return async (method, path, body) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
    return response.json();
  };
}

/** A flow that waits for a person, then writes n = 7. */
const GATE = {
  version: 2,
  name: "gate",
  description: "asks before it ships",
  state: { ok: "object", n: "number" },
  nodes: [
    { id: "ask", kind: "human", prompt: "Ship it?", output: "ok" },
    { id: "after", kind: "transform", set: { n: "7" } },
    { id: "out", kind: "output", keys: ["n"] },
  ],
  edges: [
    { from: "ask", to: "after" },
    { from: "after", to: "out" },
  ],
};

/** Signs in from the open Team panel with a password; waits for the role. */
async function teamSignIn(url, account, password) {
  await fillIn('[data-testid="team-server"]', url);
  await fillIn('[data-testid="team-account"]', account);
  await fillIn('[data-testid="team-password"]', password);
  await browser.$('[data-testid="team-sign-in"]').click();
  const role = await browser.$('[data-testid="team-role"]');
  await role.waitForDisplayed({ timeout: 20_000, timeoutMsg: `not signed in: ${await browser.$('[data-testid="team-panel"]').getText()}` });
  return role;
}

test("a team server: an executor signs in from the app, runs a flow another member made but cannot share the run, forks it with its lineage; a viewer cannot run it, and a shared run opens read-only; run and fork links run and fork from the app", async () => {
  const work = await mkdtemp(join(tmpdir(), "codexos-team-"));
  const env = { ...process.env, CODEXOS_HOME: join(work, "cli") };
  const home = ["server", "--home", join(work, "server")];
  const password = "correct horse battery";
  for (const name of ["olga", "eve", "vic"]) await codexos([...home, "account", "add", name], env, `${password}\n`);
  await codexos([...home, "workspace", "add", "team", "--owner", "olga"], env);
  await codexos([...home, "workspace", "add", "other", "--owner", "olga"], env);
  await codexos([...home, "member", "set", "team", "eve", "executor"], env);
  await codexos([...home, "member", "set", "other", "eve", "creator"], env);
  await codexos([...home, "member", "set", "team", "vic", "viewer"], env);
  const token = (await codexos([...home, "token", "create", "olga", "--label", "e2e", "--scope", "admin"], env)).trim();
  const { server, url } = await serveTeam(home, env);
  try {
    const api = bearerApi(url, token);
    // Olga (owner) puts a flow in `team` through the API.
    await api("PUT", "/api/v1/workspaces/team/flows/gate", GATE);

    // Eve (executor) signs in from the app.
    await browser.$('[data-testid="open-team"]').click();
    const role = await teamSignIn(url, "eve", password);
    await browser.$('[data-testid="team-workspace"]').selectByAttribute("value", "team");
    await browser.waitUntil(async () => (await role.getText()) === "executor", { timeout: 5_000, timeoutMsg: `role in team: ${await role.getText()}` });
    const row = await browser.$('[data-testid="team-flow"][data-flow="gate"]');
    await row.waitForDisplayed({ timeout: 10_000 });
    const runButton = await row.$('[data-testid="team-run"]');
    assert.ok(await runButton.isEnabled(), "an executor may run");
    // The run happens on the server and streams back: it waits for a person.
    await runButton.click();
    const status = await browser.$('[data-testid="team-run-status"]');
    await browser.waitUntil(async () => (await status.getText()) === "paused", { timeout: 30_000, timeoutMsg: `the run did not pause: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    const shareRun = await browser.$('[data-testid="team-share-run"]');
    assert.ok(!(await shareRun.isEnabled()), "an executor may not share (an edit)");
    assert.match(await shareRun.getAttribute("title"), /executor\) cannot share/);
    const kinds = await browser.execute(() => [...document.querySelectorAll('[data-testid="team-run-log"] li')].map((li) => li.dataset.kind));
    assert.deepEqual([kinds[0], kinds.at(-1)], ["runStarted", "runPaused"]);
    const runs = await api("GET", "/api/v1/workspaces/team/runs");
    assert.equal(runs[0].flow, "gate");
    assert.equal(runs[0].status, "paused");
    // The server refuses what the app disabled: a session of Eve's cannot share.
    const login = await fetch(`${url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ account: "eve", password }) });
    const { csrfToken } = await login.json();
    const cookie = login.headers.get("set-cookie").split(";")[0];
    const refused = await fetch(`${url}/api/v1/workspaces/team/shares`, {
      method: "POST",
      headers: { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
      body: JSON.stringify({ kind: "run", flow: "gate" }),
    });
    const why = await refused.text();
    assert.equal(refused.status, 403, why);
    assert.match(why, /this needs `edit`/, "refused for the role, not for a missing CSRF token");

    // Eve forks it into `other` (where she creates): the copy shows its lineage.
    const target = await browser.$('[data-testid="team-fork-target"]');
    await target.selectByAttribute("value", "other");
    await row.$('[data-testid="team-fork"]').click();
    await browser.waitUntil(async () => /forked gate into other/.test(await browser.$('[data-testid="team-message"]').getText()), { timeout: 10_000 });
    await browser.$('[data-testid="team-workspace"]').selectByAttribute("value", "other");
    const copy = await browser.$('[data-testid="team-flow"][data-flow="gate"] [data-testid="team-lineage"]');
    await copy.waitForDisplayed({ timeout: 10_000 });
    assert.match(await copy.getText(), /forked from workspace:team › gate v1/);
    assert.equal(await role.getText(), "creator");
    await screenshot("team-executor");
    await browser.$('[data-testid="team-sign-out"]').click();

    // Vic (viewer) signs in: nothing to run; then opens Olga's link to the run, read-only.
    await teamSignIn(url, "vic", password);
    await browser.waitUntil(async () => (await browser.$('[data-testid="team-role"]').getText()) === "viewer", { timeout: 5_000 });
    const vicRun = await browser.$('[data-testid="team-flow"][data-flow="gate"] [data-testid="team-run"]');
    await vicRun.waitForDisplayed({ timeout: 10_000 });
    assert.ok(!(await vicRun.isEnabled()), "a viewer may not run");
    assert.ok(!(await browser.$('[data-testid="team-flow"][data-flow="gate"] [data-testid="team-fork"]').isEnabled()), "nowhere to fork into");
    // Olga shares the run; opening the link needs no sign-in.
    const link = await api("POST", "/api/v1/workspaces/team/shares", { kind: "view", run: runs[0].id });
    await browser.$('[data-testid="team-sign-out"]').click();
    await browser.$('[data-testid="team-sign-in-form"]').waitForDisplayed({ timeout: 10_000 });
    await fillIn('[data-testid="team-link"]', link.app);
    await browser.$('[data-testid="team-open-link"]').click();
    const shared = await browser.$('[data-testid="team-shared"]');
    await shared.waitForDisplayed({ timeout: 10_000, timeoutMsg: `the link did not open: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    assert.match(await shared.getText(), /gate/);
    assert.equal(await browser.$('[data-testid="team-shared-status"]').getText(), "paused");
    const events = await browser.execute(() => [...document.querySelectorAll('[data-testid="team-shared-events"] li')].map((li) => li.dataset.kind));
    assert.deepEqual([events[0], events.at(-1)], ["runStarted", "runPaused"]);
    await screenshot("team-viewer");
    // Run and fork links open in the app too: Eve runs the flow of a run
    // link (its run pauses on the server, followed here) and forks the flow
    // of a fork link into `other`, where the copy keeps its lineage.
    await api("PUT", "/api/v1/workspaces/team/flows/relay", { ...GATE, name: "relay", description: "relays a decision" });
    const runLink = await api("POST", "/api/v1/workspaces/team/shares", { kind: "run", flow: "gate" });
    const forkLink = await api("POST", "/api/v1/workspaces/team/shares", { kind: "fork", flow: "relay" });
    await fillIn('[data-testid="team-link"]', forkLink.app);
    await browser.$('[data-testid="team-open-link"]').click();
    const linked = await browser.$('[data-testid="team-linked-flow"]');
    await linked.waitForDisplayed({ timeout: 10_000, timeoutMsg: `the fork link did not open: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    assert.equal(await linked.getAttribute("data-kind"), "fork");
    assert.match(await linked.getText(), /relay.*this link lets you fork it/s);
    assert.ok(!(await browser.$('[data-testid="team-link-fork"]').isEnabled()), "signed out, nothing to fork into");
    await teamSignIn(url, "eve", password);
    const into = await browser.$('[data-testid="team-link-fork-target"]');
    await browser.waitUntil(async () => (await browser.$('[data-testid="team-link-fork"]').isEnabled()) && (await into.getValue()) === "other", { timeout: 10_000, timeoutMsg: "signed in, the fork link offers no workspace" });
    await browser.$('[data-testid="team-link-fork"]').click();
    await browser.waitUntil(async () => /forked relay into other as relay/.test(await browser.$('[data-testid="team-message"]').getText()), { timeout: 10_000, timeoutMsg: `the link's fork failed: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    const forked = await api("GET", "/api/v1/workspaces/other/flows/relay");
    assert.equal(forked.forkedFrom?.flow, "relay", JSON.stringify(forked.forkedFrom));
    assert.equal(forked.forkedFrom?.origin, "workspace:team");
    await fillIn('[data-testid="team-link"]', runLink.app);
    await browser.$('[data-testid="team-open-link"]').click();
    await browser.waitUntil(async () => (await linked.getAttribute("data-kind")) === "run", { timeout: 10_000, timeoutMsg: "the run link did not open" });
    await browser.$('[data-testid="team-link-run"]').click();
    const linkStatus = await browser.$('[data-testid="team-run-status"]');
    await browser.waitUntil(async () => (await linkStatus.isExisting()) && (await linkStatus.getText()) === "paused", { timeout: 30_000, timeoutMsg: `the link's run did not pause: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    assert.equal((await api("GET", "/api/v1/workspaces/team/runs?flow=gate")).length, 2, "the link's run is the server's");
    await screenshot("team-links");
    await browser.$('[data-testid="team-sign-out"]').click();
    await browser.$('button[aria-label="Close team panel"]').click();
  } finally {
    server.kill();
    await rm(work, { recursive: true, force: true });
  }
});

test("a server's workspace opens in the canvas: an executor runs a flow there, answers its step, inspects the run and replays, re-runs, forks and compares it there, but cannot edit it; a creator's new flow is saved on the server; a second server's workspace opens beside the first; the canvas comes back to this machine", async () => {
  const work = await mkdtemp(join(tmpdir(), "codexos-remote-"));
  const env = { ...process.env, CODEXOS_HOME: join(work, "cli") };
  const home = ["server", "--home", join(work, "server")];
  const password = "correct horse battery";
  for (const name of ["olga", "eve"]) await codexos([...home, "account", "add", name], env, `${password}\n`);
  await codexos([...home, "workspace", "add", "team", "--owner", "olga"], env);
  await codexos([...home, "workspace", "add", "other", "--owner", "olga"], env);
  await codexos([...home, "member", "set", "team", "eve", "executor"], env);
  await codexos([...home, "member", "set", "other", "eve", "creator"], env);
  const token = (await codexos([...home, "token", "create", "olga", "--label", "e2e", "--scope", "admin"], env)).trim();
  // The server's workspace has its own project (a name this machine does not use).
  const teamHome = join(work, "server", "workspaces", "team");
  await writeFile(join(teamHome, "config.toml"), "[llm]\nmax_tokens = 48\ntemperature = 0.0\n");
  await writeFile(join(work, "server", "workspaces", "other", "config.toml"), "[llm]\nmax_tokens = 48\ntemperature = 0.0\n");
  await codexos(["ingest", fixture, "--project", "lumen-on-server"], { ...env, CODEXOS_HOME: teamHome });
  const { server, url } = await serveTeam(home, env);
  try {
    const api = bearerApi(url, token);
    await api("PUT", "/api/v1/workspaces/team/flows/gate", GATE);
    const switcher = await browser.$('[data-testid="workspace-switcher"]');
    assert.ok(!(await switcher.isEnabled()), "signed out, there is only this machine");
    await browser.$('[data-testid="open-team"]').click();
    await teamSignIn(url, "eve", password);
    await browser.$('button[aria-label="Close team panel"]').click();

    // Eve opens `team` (executor): the server's flow, read-only, runnable.
    await browser.waitUntil(async () => switcher.isEnabled(), { timeout: 10_000, timeoutMsg: "the switcher offers no workspace" });
    await switcher.selectByAttribute("value", `${url} team`);
    const banner = await browser.$('[data-testid="flow-remote"]');
    await banner.waitForDisplayed({ timeout: 10_000 });
    assert.equal(await banner.getAttribute("data-role"), "executor");
    const picker = await browser.$('[data-testid="flow-picker"]');
    await browser.waitUntil(async () => (await picker.getValue()) === "gate", { timeout: 10_000, timeoutMsg: `the server's flow did not open: ${await picker.getValue()}` });
    const options = await browser.execute(() => [...document.querySelectorAll('[data-testid="flow-picker"] option')].map((option) => option.value));
    assert.deepEqual(options, ["gate"], "only the server's flows are listed");
    // The projects panel lists the server's projects.
    if (!(await browser.$('[data-testid="project-list"]').isDisplayed())) await browser.$('[data-testid="toggle-projects"]').click();
    await browser.$('[data-testid="server-projects"]').waitForDisplayed({ timeout: 10_000 });
    await browser.waitUntil(async () => (await browser.execute(() => document.querySelector('[data-testid="server-projects"]').textContent)).includes("lumen-on-server"), { timeout: 10_000, timeoutMsg: "the server's project is not listed" });
    assert.ok(!(await browser.$('[data-testid="ingest-path"]').isDisplayed()), "an executor cannot upload projects");
    const save = await browser.$('[data-testid="flow-save"]');
    assert.ok(!(await save.isEnabled()), "an executor may not save");
    assert.match(await save.getAttribute("title"), /\(executor\) cannot edit/);
    assert.ok(!(await browser.$('[data-testid="flow-new"]').isEnabled()), "nor add flows");
    assert.ok(!(await browser.$('[data-testid="palette-llm"]').isEnabled()), "nor add nodes");
    const check = await browser.$('[data-testid="flow-check"]');
    await browser.waitUntil(async () => (await check.getText()).includes("checked"), { timeout: 10_000, timeoutMsg: `the server's check: ${await check.getAttribute("title")}` });

    // The run executes on the server and streams back; its step is answered here.
    await fill(await browser.$('[data-testid="flow-input"]'), "{}");
    const run = await browser.$('[data-testid="flow-run"]');
    assert.ok(await run.isEnabled(), "an executor may run");
    await run.click();
    await browser.$('[data-testid="human-prompt"]').waitForDisplayed({ timeout: 60_000, timeoutMsg: `no step to answer: ${await browser.$('[data-testid="run-panel"]').getText()}` });
    let runs = await api("GET", "/api/v1/workspaces/team/runs?flow=gate");
    assert.equal(runs.length, 1);
    assert.equal(runs[0].status, "paused", "the run waits on the server");
    await screenshot("remote-executor-paused");
    await browser.$('[data-testid="approve"]').click();
    const panel = await browser.$('[data-testid="run-panel"]');
    await browser.waitUntil(async () => (await panel.getAttribute("data-finished")) === "succeeded", { timeout: 60_000, timeoutMsg: `the resumed run did not succeed: ${await panel.getText()}` });
    runs = await api("GET", "/api/v1/workspaces/team/runs?flow=gate");
    assert.equal(runs[0].status, "succeeded");
    const detail = await api("GET", `/api/v1/workspaces/team/runs/${runs[0].id}`);
    assert.equal(detail.detail.output.n, 7, "resumed on the server, where it finished");
    // The inspector reads the server's run.
    await browser.$('[data-testid="inspect-run"]').click();
    await browser.$('[data-testid="run-on-server"]').waitForDisplayed({ timeout: 10_000 });
    await browser.$('[data-testid="inspector-pick-after"]').click();
    await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-writes"]').getText()).includes("7"), { timeout: 10_000, timeoutMsg: "the server's trace did not show" });
    // Replayed from its recording on the server: the report comes back.
    await browser.$('[data-testid="run-replay"]').click();
    const report = await browser.$('[data-testid="replay-report"]');
    await report.waitForDisplayed({ timeout: 60_000 });
    assert.equal(await report.getAttribute("data-identical"), "true", await report.getText());
    assert.equal((await api("GET", "/api/v1/workspaces/team/runs?flow=gate")).length, 1, "a replay stores no run");
    // Re-run live there (with the recorded answer), then checked against the recording.
    await browser.execute(() => document.querySelector('[data-testid="run-rerun"]').click());
    await browser.waitUntil(async () => (await api("GET", "/api/v1/workspaces/team/runs?flow=gate")).length === 2, { timeout: 60_000, timeoutMsg: "the re-run did not start on the server" });
    await browser.waitUntil(async () => (await report.isExisting()) && (await report.getAttribute("data-identical")) === "true", { timeout: 60_000, timeoutMsg: "the re-run's report did not come back identical" });
    // Forked from `after` with the state edited (its approval given again): a new run on the server, opened here.
    await browser.$('[data-testid="inspector-node"] details summary').click();
    await fill(await browser.$('[data-testid="fork-edits"]'), '{"ok": {"approved": true}}');
    await browser.$('[data-testid="fork-run"]').click();
    await browser.waitUntil(async () => (await browser.$('[data-testid="inspector-status"]').getText()).includes("forked from"), { timeout: 60_000, timeoutMsg: "the server's fork did not open" });
    runs = await api("GET", "/api/v1/workspaces/team/runs?flow=gate");
    assert.equal(runs.length, 3, "the fork is a run on the server");
    // Compared side by side with the first run.
    const compareWith = await browser.$('[data-testid="compare-with"]');
    await browser.waitUntil(async () => (await browser.$$('[data-testid="compare-with"] option')).length >= 3, { timeout: 10_000, timeoutMsg: "the server's runs are not offered for comparison" });
    await compareWith.selectByIndex(1);
    const compared = await browser.$('[data-testid="run-compare"]');
    await compared.waitForDisplayed({ timeout: 10_000 });
    // The fork did not run `ask` again (it started after it): there they part.
    assert.equal(await compared.getAttribute("data-first-divergence"), "ask", await compared.getText());
    await screenshot("remote-inspector");
    await browser.$('button[aria-label="Close run inspector"]').click();
    // What the window disables, the server refuses: Eve's own session cannot save.
    const login = await fetch(`${url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ account: "eve", password }) });
    const { csrfToken } = await login.json();
    const refused = await fetch(`${url}/api/v1/workspaces/team/flows/gate`, {
      method: "PUT",
      headers: { cookie: login.headers.get("set-cookie").split(";")[0], "x-csrf-token": csrfToken, "content-type": "application/json" },
      body: JSON.stringify({ ...GATE, description: "changed" }),
    });
    assert.equal(refused.status, 403, await refused.text());

    // The chat asks the server's projects (chat and agents stay on this machine).
    if (!(await browser.$('[data-testid="chat-input"]').isDisplayed())) await browser.$('[data-testid="toggle-chat"]').click();
    // The server's project picked: the asks go to it there.
    await browser.$('[data-testid="server-projects"] [data-testid="project"]').click();
    await browser.$('[data-testid="conversation-new"]').click();
    await browser.waitUntil(async () => (await browser.$('[data-testid="mode-ask"]').getAttribute("aria-checked")) === "true", { timeout: 10_000 });
    assert.ok(await browser.$('[data-testid="mode-agent"]').isEnabled(), "the workspace's agents are offered too");
    await browser.$('[data-testid="chat-input"]').setValue("What is the default port of the Lumen server?");
    await browser.$('[data-testid="ask-button"]').click();
    await browser.waitUntil(async () => /Answers from project “lumen-on-server” of team/.test(await browser.execute(() => document.querySelector('[data-testid="messages"]').parentElement.textContent)), { timeout: 10_000, timeoutMsg: "the conversation is not about the server's project" });
    await browser.waitUntil(async () => (await browser.$$('[data-testid="answer"]')).length === 1, { timeout: 10_000, timeoutMsg: "no answer started" });
    const answer = await browser.$('[data-testid="answer"]');
    await browser.waitUntil(async () => ["done", "error"].includes(await answer.getAttribute("data-phase")), { timeout: 120_000, timeoutMsg: "no answer" });
    assert.equal(await answer.getAttribute("data-phase"), "done", await answer.getText());
    const cited = await browser.execute(() => [...document.querySelectorAll('[data-testid="citation"]')].map((citation) => citation.parentElement.title));
    assert.ok(cited.length > 0 && cited.every((title) => title.includes(" lumen-on-server ")), `cited: ${cited.join(" | ")}`);
    // A citation opens the server's file, read there.
    await browser.$('[data-testid="citation"]').click();
    const citedFile = await browser.$('[data-testid="file-preview"]');
    await citedFile.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the cited file did not open" });
    await browser.waitUntil(async () => (await citedFile.getText()).includes("lumen-on-server/") && /Lumen/.test(await citedFile.getText()), { timeout: 10_000, timeoutMsg: `the server's file did not show: ${await citedFile.getText()}` });
    await browser.$('button[aria-label="Close preview"]').click();
    const asks = (await api("GET", "/api/v1/workspaces/team/runs")).filter((summary) => summary.flow !== "gate");
    assert.equal(asks.length, 1, "the ask is kept as a run on the server");
    await screenshot("remote-ask");
    // Chat mode talks to the server's models (its picker lists them); the
    // turn is kept as a chat run there, the conversation here.
    await browser.$('[data-testid="mode-chat"]').click();
    const serverModels = await browser.execute(() => [...document.querySelectorAll('[data-testid="model-picker"] option')].map((option) => option.textContent));
    assert.equal(serverModels[0], "The server's policy", serverModels.join(" | "));
    assert.match(await browser.$('[data-testid="chat-scope"]').getText(), /models of team on/);
    const chatted = await sendChat("Say hello.");
    assert.ok((await chatted.getText()).length > 0);
    await browser.waitUntil(async () => (await api("GET", "/api/v1/workspaces/team/runs")).some((summary) => summary.flow === "chat"), { timeout: 10_000, timeoutMsg: `no chat run on the server: ${JSON.stringify(await api("GET", "/api/v1/workspaces/team/runs"))}` });
    await screenshot("remote-chat");
    // Analytics are the workspace's: its flows, asks and chat turns, none of this machine's.
    await browser.$('[data-testid="open-analytics"]').click();
    await browser.$('[data-testid="analytics-totals"]').waitForDisplayed({ timeout: 30_000 });
    assert.match(await browser.$('[data-testid="analytics-where"]').getText(), /of team on http/);
    const serverRows = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="analytics-breakdown"] [data-testid="analytics-row"]')].map((row) => row.dataset.value));
    await browser.waitUntil(async () => { const rows = await serverRows(); return ["gate", "ask", "chat"].every((flow) => rows.includes(flow)); }, { timeout: 10_000, timeoutMsg: `the server's flows are not counted: ${await serverRows()}` });
    assert.ok(!(await serverRows()).includes("e2e-forms"), `this machine's flows are not the server's: ${await serverRows()}`);
    await screenshot("remote-analytics");
    await browser.$('button[aria-label="Close analytics"]').click();

    // In `other` Eve creates: a new flow and its edit are saved on the server.
    await switcher.selectByAttribute("value", `${url} other`);
    await browser.waitUntil(async () => (await browser.$('[data-testid="flow-remote"]').getAttribute("data-role")) === "creator", { timeout: 10_000 });
    // The canvas remounts on the other side: New is enabled once it has.
    await browser.waitUntil(async () => browser.$('[data-testid="flow-new"]').isEnabled(), { timeout: 10_000, timeoutMsg: "New stayed disabled for a creator" });
    await browser.execute((button) => button.click(), await browser.$('[data-testid="flow-new"]'));
    await browser.$('[data-testid="flow-name-dialog"]').waitForDisplayed({ timeout: 10_000 });
    await fill(await browser.$('[data-testid="flow-name"]'), "notes");
    await browser.$('[data-testid="flow-name-submit"]').click();
    await browser.waitUntil(async () => (await picker.getValue()) === "notes", { timeout: 10_000, timeoutMsg: `the new flow did not open: ${await browser.$('[data-testid="flow-canvas"]').getText()}` });
    await fill(await browser.$('[data-testid="flow-description"]'), "kept on the server");
    await browser.$('[data-testid="flow-save"]').click();
    await browser.waitUntil(async () => /saved v2/.test(await browser.$('[data-testid="flow-notice"]').getAttribute("title")), { timeout: 10_000, timeoutMsg: `not saved: ${await browser.$('[data-testid="flow-notice"]').getAttribute("title")}` });
    const versions = await api("GET", "/api/v1/workspaces/other/flows/notes/versions");
    assert.equal(versions.length, 2);
    assert.match(versions[1].content, /kept on the server/);
    // A creator's edit and run: saved first, then the server runs that version.
    await fill(await browser.$('[data-testid="flow-description"]'), "kept and run on the server");
    await fill(await browser.$('[data-testid="flow-input"]'), "{}");
    await browser.$('[data-testid="flow-run"]').click();
    await browser.waitUntil(async () => (await browser.$('[data-testid="run-panel"]').getAttribute("data-finished")) === "succeeded", { timeout: 60_000, timeoutMsg: "the creator's run did not succeed" });
    assert.equal((await api("GET", "/api/v1/workspaces/other/flows/notes/versions")).length, 3, "saved before it ran");
    await screenshot("remote-creator");

    // A creator uploads a folder of this machine into `other`: sent, then indexed there.
    await browser.$('[data-testid="server-projects"]').waitForDisplayed({ timeout: 10_000 });
    await fill(await browser.$('[data-testid="ingest-path"]'), fixture);
    await browser.$('[data-testid="ingest-button"]').click();
    const uploaded = await browser.$('[data-testid="ingest-status"]');
    await browser.waitUntil(async () => (await uploaded.isExisting()) && (await uploaded.getAttribute("data-status")) !== "running", { timeout: 180_000, timeoutMsg: "the upload did not end" });
    assert.equal(await uploaded.getAttribute("data-status"), "done", await uploaded.getText());
    assert.match(await browser.$('[data-testid="ingest-report"]').getText(), /[1-9]\d* indexed/);
    const fixtureName = fixture.split("/").filter(Boolean).pop().replace(/[^A-Za-z0-9._-]/g, "-");
    const onServer = await api("GET", "/api/v1/workspaces/other/projects");
    const project = onServer.find((entry) => entry.name === fixtureName);
    assert.ok(project && project.chunks > 0, `not indexed on the server: ${JSON.stringify(onServer)}`);
    assert.ok(project.root.endsWith(`uploads/${fixtureName}`), project.root);
    // Its files are listed from the server and open in the preview, read there.
    await browser.waitUntil(async () => (await browser.$$('[data-testid="server-projects"] [data-testid="project"]')).length === 1, { timeout: 10_000, timeoutMsg: "the uploaded project is not listed" });
    // (The ingest's and the run's toasts may sit over the panel's foot.)
    await browser.execute((button) => button.click(), await browser.$('[data-testid="server-projects"] [data-testid="project"]'));
    const filePath = "README.md";
    const file = await browser.$(`[data-testid="file-tree"] [data-testid="project-file"][data-path="${filePath}"]`);
    await file.waitForDisplayed({ timeout: 10_000 });
    await browser.execute((button) => button.click(), file);
    const preview = await browser.$('[data-testid="file-preview"]');
    await preview.waitForDisplayed({ timeout: 10_000 });
    const original = await readFile(join(fixture, filePath), "utf8");
    const firstLine = original.split("\n").find((line) => line.trim().length > 0);
    await browser.waitUntil(async () => (await preview.getText()).includes(firstLine.trim()), { timeout: 10_000, timeoutMsg: `the preview did not show ${filePath}: ${await preview.getText()}` });
    await screenshot("remote-upload");
    await browser.$('button[aria-label="Close preview"]').click();

    // The Agents panel publishes in `other` on the server (its tools offered), not here.
    await browser.$('[data-testid="open-agents"]').click();
    await browser.$('[data-testid="agents-panel"]').waitForDisplayed({ timeout: 10_000 });
    assert.match(await browser.$('[data-testid="agents-where"]').getText(), /of other on http/);
    await browser.$('[data-testid="agent-new"]').click();
    await fill(await browser.$('[data-testid="agent-name"]'), "server-helper");
    await fill(await browser.$('[data-testid="agent-system"]'), "You help with the workspace's files.");
    const readTool = await browser.$('[data-testid="agent-tool"][data-tool="fs.read"]');
    await readTool.waitForExist({ timeout: 10_000, timeoutMsg: "the server's tools are not offered" });
    await readTool.click();
    await browser.$('[data-testid="agent-publish"]').click();
    await browser.waitUntil(async () => /Published server-helper@1\.0\.0/.test(await browser.$('[data-testid="agent-message"]').getText()), { timeout: 10_000, timeoutMsg: `not published: ${await browser.$('[data-testid="agent-message"]').getText()}` });
    const serverAgents = await api("GET", "/api/v1/workspaces/other/agents");
    assert.ok(serverAgents.some((agent) => `${agent.name}@${agent.version}` === "server-helper@1.0.0"), JSON.stringify(serverAgents.map((agent) => agent.name)));
    await screenshot("remote-agents");
    await browser.$('button[aria-label="Close agents"]').click();
    // The chat's agent mode offers the workspace's agents (not this machine's) and runs a turn there.
    if (!(await browser.$('[data-testid="chat-input"]').isDisplayed())) await browser.$('[data-testid="toggle-chat"]').click();
    await browser.execute((button) => button.click(), await browser.$('[data-testid="mode-agent"]'));
    const agentPicker = await browser.$('[data-testid="agent-picker"]');
    await agentPicker.waitForDisplayed({ timeout: 10_000 });
    await browser.waitUntil(async () => (await agentPicker.getText()).includes("server-helper"), { timeout: 10_000, timeoutMsg: `the workspace's agent is not offered: ${await agentPicker.getText()}` });
    const offered = await browser.execute(() => [...document.querySelectorAll('[data-testid="agent-picker"] option')].map((option) => option.value));
    const theirs = [...new Set((await api("GET", "/api/v1/workspaces/other/agents")).map((agent) => agent.name))];
    assert.deepEqual(offered.sort(), theirs.sort(), "the workspace's agents are offered");
    await agentPicker.selectByAttribute("value", "server-helper");
    const agentAnswer = await sendChat("Say hello.");
    assert.match(await browser.$('[data-testid="chat-scope"]').getText(), /Agent server-helper@1\.0\.0 of other on http/);
    assert.match(await agentAnswer.getText(), /trace [0-9a-f]{8}/, "the answer is a run");
    const agentRuns = await api("GET", "/api/v1/workspaces/other/runs");
    assert.ok(agentRuns.some((summary) => summary.flow === "chat-server-helper" && summary.status === "succeeded"), JSON.stringify(agentRuns.map((summary) => [summary.flow, summary.status])));
    await screenshot("remote-agent-chat");

    // Search runs there with its filters, over the server's projects only; a hit opens the server's file.
    await browser.$('[data-testid="open-search"]').click();
    await browser.$('[data-testid="search-panel"]').waitForDisplayed({ timeout: 10_000 });
    assert.match(await browser.$('[data-testid="search-where"]').getText(), /of other on http/);
    const searchable = await browser.execute(() => [...document.querySelectorAll('[data-testid="search-project"] option')].map((option) => option.value));
    assert.deepEqual(searchable, ["", fixtureName], "the server's projects are offered");
    await fill(await browser.$('[data-testid="search-query"]'), "default port");
    await fill(await browser.$('[data-testid="search-path"]'), "*.md");
    await browser.$('[data-testid="search-button"]').click();
    await browser.$('[data-testid="search-count"]').waitForDisplayed({ timeout: 30_000 });
    const serverHits = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="search-hit"]')].map((hit) => hit.dataset.path));
    const markdownHits = await serverHits();
    assert.ok(markdownHits.includes("docs/configuration.md"), markdownHits.join(", "));
    for (const path of markdownHits) assert.match(path, /\.md$/);
    await browser.$('[data-testid="search-kind"]').selectByAttribute("value", "code");
    await fill(await browser.$('[data-testid="search-path"]'), "src/*");
    await browser.$('[data-testid="search-button"]').click();
    await browser.waitUntil(async () => { const paths = await serverHits(); return paths.length > 0 && paths.every((path) => path.startsWith("src/")); }, { timeout: 30_000, timeoutMsg: `the filters were not applied there: ${await serverHits()}` });
    await browser.$('[data-testid="search-hit"]').click();
    const hitPreview = await browser.$('[data-testid="file-preview"]');
    await hitPreview.waitForDisplayed({ timeout: 10_000 });
    await browser.waitUntil(async () => (await hitPreview.getText()).includes("DEFAULT_PORT"), { timeout: 10_000, timeoutMsg: `the server's file was not shown: ${await hitPreview.getText()}` });
    await screenshot("remote-search");
    await browser.$('[data-testid="file-preview"] button[aria-label="Close preview"]').click();
    await browser.$('[data-testid="close-search"]').click();

    // Evals run there: a dataset file of this machine is imported into `other`, its flow evaluated on the server.
    await browser.execute((button) => button.click(), await browser.$('[data-testid="open-evals"]'));
    await browser.$('[data-testid="evals-panel"]').waitForDisplayed({ timeout: 10_000 });
    assert.match(await browser.$('[data-testid="evals-where"]').getText(), /in other on http/);
    const cases = join(work, "server-cases.jsonl");
    await writeFile(cases, '{"id": "one", "input": {}}\n{"id": "two", "input": {}}\n');
    await fill(await browser.$('[data-testid="dataset-import-path"]'), cases);
    await browser.$('[data-testid="dataset-import"]').click();
    await browser.$('[data-testid="dataset"][data-name="server-cases"]').waitForDisplayed({ timeout: 10_000 });
    const serverSets = await api("GET", "/api/v1/workspaces/other/datasets");
    assert.deepEqual(serverSets.map((set) => [set.name, set.cases]), [["server-cases", 2]]);
    await browser.$('[data-testid="eval-flow"]').selectByVisibleText("notes");
    await browser.$('[data-testid="eval-dataset"]').selectByAttribute("value", "server-cases");
    await browser.$('[data-testid="eval-start"]').click();
    const serverReport = await browser.$('[data-testid="eval-report"]');
    await serverReport.waitForDisplayed({ timeout: 60_000 });
    const serverEvals = await api("GET", "/api/v1/workspaces/other/evals");
    assert.deepEqual(serverEvals.map((stored) => [stored.id, stored.flow, stored.cases]), [[await serverReport.getAttribute("data-eval"), "notes", 2]]);
    assert.equal((await browser.$$('[data-testid="eval-case"]')).length, 2);
    await screenshot("remote-evals");
    await browser.$('button[aria-label="Close evals"]').click();

    // A share link opened by the system (`gio open`, as GNOME does for a browser or chat):
    // the app registered itself as the codexos:// handler; a second launch
    // hands the link to this window, which shows it in the Team panel to open.
    const handler = await readFile(join(process.env.XDG_DATA_HOME, "applications", "codexos-desktop-handler.desktop"), "utf8");
    assert.match(handler, /MimeType=.*x-scheme-handler\/codexos/);
    assert.ok(handler.includes(`Exec="${app}" %u`), handler);
    const shared = await api("POST", "/api/v1/workspaces/team/shares", { kind: "view", run: runs[0].id });
    await new Promise((resolve, reject) => {
      const opener = spawn("gio", ["open", shared.app], { stdio: ["ignore", "inherit", "inherit"] });
      opener.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`gio open exited with ${code}`))));
    });
    const pasted = await browser.$('[data-testid="team-link"]');
    await pasted.waitForDisplayed({ timeout: 30_000, timeoutMsg: "the link did not reach the window" });
    assert.equal(await pasted.getValue(), shared.app);
    assert.match(await browser.$('[data-testid="team-message"]').getText(), /opened from outside the app/);
    // (A run's toast may sit over the button for a few seconds.)
    await browser.execute((button) => button.click(), await browser.$('[data-testid="team-open-link"]'));
    await browser.waitUntil(async () => (await browser.$('[data-testid="team-shared-status"]').getText()) === "succeeded", { timeout: 10_000, timeoutMsg: `the shared run did not open: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    await screenshot("remote-link-opened");
    await browser.$('button[aria-label="Close team panel"]').click();
    // A link that starts the app (no app open on that data home): taken at
    // start and kept for the window (its log says so; not registered again).
    const other = join(work, "other-home");
    const started = spawn(app, [shared.app], { env: { ...process.env, CODEXOS_HOME: other, CODEXOS_REGISTER_LINKS: "0" }, stdio: "ignore" });
    try {
      const log = join(other, "logs", "desktop.log");
      await browser.waitUntil(async () => existsSync(log) && (await readFile(log, "utf8")).includes("a codexos:// share link waits for the window"), { timeout: 60_000, interval: 500, timeoutMsg: "the app started with a link did not take it" });
    } finally {
      started.kill();
    }

    // A second server, signed in to beside the first: the switcher lists
    // both servers' workspaces; signing out of one keeps the other.
    const home2 = ["server", "--home", join(work, "server2")];
    await codexos([...home2, "account", "add", "eve"], env, `${password}\n`);
    await codexos([...home2, "workspace", "add", "lab", "--owner", "eve"], env);
    const token2 = (await codexos([...home2, "token", "create", "eve", "--label", "e2e", "--scope", "admin"], env)).trim();
    const second = await serveTeam(home2, env);
    try {
      await bearerApi(second.url, token2)("PUT", "/api/v1/workspaces/lab/flows/probe", { ...GATE, name: "probe" });
      await browser.$('[data-testid="open-team"]').click();
      await browser.$('[data-testid="team-add-server"]').click();
      await fillIn('[data-testid="team-server"]', second.url);
      await fillIn('[data-testid="team-account"]', "eve");
      await fillIn('[data-testid="team-password"]', password);
      await browser.$('[data-testid="team-sign-in"]').click();
      const pick = await browser.$('[data-testid="team-server-pick"]');
      await browser.waitUntil(async () => (await pick.isExisting()) && (await pick.getValue()) === second.url, { timeout: 20_000, timeoutMsg: `not signed in to the second server: ${await browser.$('[data-testid="team-panel"]').getText()}` });
      assert.equal(await browser.$('[data-testid="team-role"]').getText(), "owner");
      await browser.$('button[aria-label="Close team panel"]').click();
      const values = async () => browser.execute(() => [...document.querySelectorAll('[data-testid="workspace-switcher"] option')].map((option) => option.value));
      await browser.waitUntil(async () => (await values()).includes(`${second.url} lab`), { timeout: 10_000, timeoutMsg: `the second server's workspace is not offered: ${(await values()).join(" | ")}` });
      assert.deepEqual((await values()).sort(), ["", `${second.url} lab`, `${url} other`, `${url} team`].sort());
      await switcher.selectByAttribute("value", `${second.url} lab`);
      await browser.waitUntil(async () => (await browser.$('[data-testid="flow-remote"]').getAttribute("data-role")) === "owner" && (await picker.getValue()) === "probe", { timeout: 10_000, timeoutMsg: `the second server's flow did not open: ${await picker.getValue()}` });
      await screenshot("remote-two-servers");
      // Settings → Providers, Models and Tools show `lab`'s (Eve owns it): a provider added
      // there is saved on the server, its key in lab's vault; models and tools are read there.
      const labApi = bearerApi(second.url, token2);
      await browser.$('[data-testid="open-settings"]').click();
      await browser.$('[data-testid="providers-where"]').waitForDisplayed({ timeout: 10_000 });
      assert.match(await browser.$('[data-testid="providers-where"]').getText(), /providers of lab on http/);
      assert.ok(!(await browser.$('[data-testid="offline"]').isExisting()), "offline mode is the server's own");
      await browser.$('[data-testid="provider-add-open"]').click();
      await fillIn('[data-testid="provider-name"]', "lab-vllm");
      await fillIn('[data-testid="provider-url"]', "http://127.0.0.1:9/v1");
      await fillIn('[data-testid="provider-model"]', "served-model");
      await fillIn("#provider-key-name", "lab-vllm-key");
      await fillIn("#provider-key", "sk-provider-never-back");
      await browser.$('[data-testid="provider-add-submit"]').click();
      // Added there; its test goes from the server to an address where nothing listens.
      await browser.waitUntil(async () => /added lab-vllm/.test(await browser.$('[data-testid="provider-add-result"]').getText()), { timeout: 30_000, timeoutMsg: `not added: ${await browser.$('[data-testid="settings"]').getText()}` });
      const labLlm = await labApi("GET", "/api/v1/workspaces/lab/llm");
      assert.ok(labLlm.configured.some((entry) => entry.name === "lab-vllm" && entry.model === "served-model"), JSON.stringify(labLlm.configured));
      assert.ok((await labApi("GET", "/api/v1/workspaces/lab/vault")).includes("lab-vllm-key"), "the key went to lab's vault");
      await browser.waitUntil(async () => (await browser.execute(() => [...document.querySelectorAll('[data-testid="provider-row"]')].map((row) => row.textContent))).some((text) => text.includes("lab-vllm")), { timeout: 10_000, timeoutMsg: "the server's new provider is not listed" });
      assert.ok(!(await browser.$('[data-testid="settings"]').getText()).includes("sk-provider-never-back"), "the key is not shown");
      await screenshot("remote-providers");
      await browser.$("button=models").click();
      await browser.$('[data-testid="models-where"]').waitForDisplayed({ timeout: 10_000 });
      assert.ok((await browser.$$('[data-testid="model-list"] li')).length > 0, "the server's models are listed");
      const modelButtons = await browser.execute(() => [...document.querySelectorAll('[data-testid="settings"] button')].map((button) => button.textContent.trim()));
      assert.ok(!modelButtons.some((text) => text.includes("Pull")), `models are installed on the server's machine: ${modelButtons}`);
      await browser.$("button=tools").click();
      await browser.$('[data-testid="tools-where"]').waitForDisplayed({ timeout: 10_000 });
      await browser.waitUntil(async () => (await browser.$$('[data-testid="tool-row"]')).length > 0, { timeout: 10_000, timeoutMsg: "the server's tools are not listed" });
      assert.ok(!(await browser.$('[data-testid="permission-rules"]').isExisting()), "rules are set on the server's machine");
      // Settings → Bundles imports a bundle file of this machine into lab (unsigned: only when allowed),
      // its flow written there with its lineage; exporting stays with this machine's flows.
      const cliHome = join(work, "cli");
      await mkdir(join(cliHome, "flows"), { recursive: true });
      await writeFile(join(cliHome, "flows", "e2e-bundled.flow.json"), JSON.stringify({ ...GATE, name: "e2e-bundled" }));
      const bundleFile = join(work, "e2e-bundled.codexos-bundle");
      await codexos(["bundle", "export", bundleFile, "--flow", "e2e-bundled", "--unsigned"], env);
      await browser.$("button=bundles").click();
      await browser.$('[data-testid="bundle-export-here"]').waitForDisplayed({ timeout: 10_000 });
      assert.ok(!(await browser.$('[data-testid="bundle-export"]').isExisting()), "no export of the server's flows");
      await fillIn('[data-testid="bundle-path"]', bundleFile);
      await browser.$('[data-testid="bundle-verify"]').click();
      const serverCheck = await browser.$('[data-testid="bundle-check"]');
      await serverCheck.waitForDisplayed({ timeout: 10_000 });
      assert.equal(await serverCheck.getAttribute("data-signed"), "false");
      assert.ok(!(await browser.$('[data-testid="bundle-import"]').isEnabled()), "an unsigned bundle needs consent");
      await browser.$('[data-testid="bundle-allow-unsigned"]').click();
      await browser.$('[data-testid="bundle-import"]').click();
      await browser.waitUntil(async () => /Imported 1 flow/.test(await browser.$('[data-testid="bundle-import-note"]').getText()), { timeout: 10_000, timeoutMsg: `not imported: ${await browser.$('[data-testid="bundle-import-note"]').getText()}` });
      const bundled = await labApi("GET", "/api/v1/workspaces/lab/flows/e2e-bundled");
      assert.match(bundled.forkedFrom?.origin ?? "", /^bundle:/, JSON.stringify(bundled));
      await screenshot("remote-bundle");
      // Settings → Vault shows the workspace's vault above this machine's:
      // a secret set there is listed by the server, and its value never comes back.
      await browser.$("button=vault").click();
      await browser.$('[data-testid="server-vault"]').waitForDisplayed({ timeout: 10_000 });
      assert.match(await browser.$('[data-testid="server-vault"]').getText(), /Vault of lab on http/);
      await fillIn('[data-testid="server-vault-name"]', "lab-key");
      await fillIn('[data-testid="server-vault-value"]', "sk-lab-never-back");
      await browser.$('[data-testid="server-vault-add"]').click();
      await browser.$('[data-testid="server-vault-secret"][data-name="lab-key"]').waitForDisplayed({ timeout: 10_000, timeoutMsg: `the secret is not listed: ${await browser.$('[data-testid="server-vault"]').getText()}` });
      const labSecrets = await labApi("GET", "/api/v1/workspaces/lab/vault");
      assert.deepEqual(labSecrets.sort(), ["lab-key", "lab-vllm-key"]);
      assert.equal(await browser.$('[data-testid="server-vault-value"]').getValue(), "", "the value is cleared once sent");
      assert.ok(!(await browser.$('[data-testid="vault"]').getText()).includes("sk-lab-never-back"), "nor shown");
      assert.ok(await browser.$('[data-testid="vault-name"]').isDisplayed(), "this machine's vault is still there");
      await screenshot("remote-vault");
      await browser.$('button[aria-label="Close settings"]').click();
      // Back on the first server's workspace: its flows, its role.
      await switcher.selectByAttribute("value", `${url} team`);
      await browser.waitUntil(async () => (await browser.$('[data-testid="flow-remote"]').getAttribute("data-role")) === "executor" && (await picker.getValue()) === "gate", { timeout: 10_000, timeoutMsg: "the first server's workspace did not come back" });
      // An executor reads the workspace's providers and changes nothing.
      await browser.$('[data-testid="open-settings"]').click();
      await browser.$('[data-testid="providers-where"]').waitForDisplayed({ timeout: 10_000 });
      assert.match(await browser.$('[data-testid="providers-where"]').getText(), /Your role \(executor\) reads them/);
      assert.ok(!(await browser.$('[data-testid="provider-add-open"]').isExisting()) && !(await browser.$('button[aria-label="Move up"]').isExisting()), "an executor may not change them");
      await browser.$('button[aria-label="Close settings"]').click();
      // Signing out of the second server (the panel shows it) keeps the first, and its workspace open.
      await browser.$('[data-testid="open-team"]').click();
      await browser.$('[data-testid="team-sign-out"]').click();
      await browser.waitUntil(async () => (await browser.$('[data-testid="team-who"]').getText()).includes(url) && !(await pick.isExisting()), { timeout: 10_000, timeoutMsg: "the panel did not go back to the first server" });
      await browser.$('button[aria-label="Close team panel"]').click();
      await browser.waitUntil(async () => !(await values()).includes(`${second.url} lab`), { timeout: 10_000, timeoutMsg: "the signed-out server is still offered" });
      await browser.waitUntil(async () => (await browser.$('[data-testid="flow-remote"]').getAttribute("data-role")) === "executor" && (await switcher.getValue()) === `${url} team`, { timeout: 10_000, timeoutMsg: "the first server's workspace did not stay open" });
      await browser.pause(2_500);
      assert.equal(await switcher.getValue(), `${url} team`, "still open after the canvas's next poll");
    } finally {
      second.server.kill();
    }

    // Back to this machine: its own flows again, none of the server's.
    await switcher.selectByAttribute("value", "");
    await browser.waitUntil(async () => !(await browser.$('[data-testid="flow-remote"]').isExisting()), { timeout: 10_000 });
    await browser.waitUntil(async () => (await browser.execute(() => [...document.querySelectorAll('[data-testid="flow-picker"] option')].map((option) => option.value))).includes("rag-qa"), { timeout: 10_000, timeoutMsg: "this machine's flows did not come back" });
    const here = await browser.execute(() => [...document.querySelectorAll('[data-testid="flow-picker"] option')].map((option) => option.value));
    assert.ok(!here.includes("notes") && !here.includes("gate"), here.join(", "));
    // Signing out with a server's workspace open brings the window back here.
    await switcher.selectByAttribute("value", `${url} team`);
    await browser.$('[data-testid="flow-remote"]').waitForDisplayed({ timeout: 10_000 });
    await browser.$('[data-testid="open-team"]').click();
    await browser.$('[data-testid="team-sign-out"]').click();
    await browser.$('button[aria-label="Close team panel"]').click();
    await browser.waitUntil(async () => !(await browser.$('[data-testid="flow-remote"]').isExisting()), { timeout: 10_000, timeoutMsg: "still on the server after signing out" });
    await browser.waitUntil(async () => (await browser.$('[data-testid="flow-picker"]').getValue()) === "rag-qa", { timeout: 10_000, timeoutMsg: "this machine's flows did not come back after signing out" });
    assert.ok(!(await switcher.isEnabled()), "signed out: only this machine again");
  } finally {
    server.kill();
    await rm(work, { recursive: true, force: true });
  }
});

/** A small browser for the identity provider's pages: a cookie jar per
 * host, redirects followed, forms submitted. Answers the last page. */
function oidcBrowser() {
  const jar = new Map();
  const go = async (url, form) => {
    let next = new URL(url);
    let init = form ? { method: "POST", body: new URLSearchParams(form) } : { method: "GET" };
    for (let hop = 0; hop < 20; hop += 1) {
      const cookies = [...(jar.get(next.hostname) ?? new Map())].map(([name, value]) => `${name}=${value}`).join("; ");
      const response = await fetch(next, { ...init, redirect: "manual", headers: cookies ? { cookie: cookies } : {} });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";");
        const at = pair.indexOf("=");
        if (!jar.has(next.hostname)) jar.set(next.hostname, new Map());
        jar.get(next.hostname).set(pair.slice(0, at).trim(), pair.slice(at + 1));
      }
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        next = new URL(location, next);
        init = { method: "GET" };
        continue;
      }
      return { url: next, status: response.status, page: await response.text() };
    }
    throw new Error(`too many redirects from ${url}`);
  };
  const action = ({ url, page }) => new URL(/action="([^"]+)"/.exec(page)[1].replaceAll("&amp;", "&"), url);
  return { go, action };
}

test("a team server with SSO: a member signs in from the app through a real OIDC provider, adds a webhook trigger and a schedule, and follows an outgoing webhook's deliveries", async () => {
  const work = await mkdtemp(join(tmpdir(), "codexos-sso-"));
  const env = { ...process.env, CODEXOS_HOME: join(work, "cli"), CODEXOS_OIDC_CLIENT_SECRET: "e2e-client-secret" };
  const home = ["server", "--home", join(work, "server")];
  await codexos([...home, "account", "add", "olga"], env, "correct horse battery\n");
  await codexos([...home, "account", "add", "cora", "--no-password"], env);
  await codexos([...home, "workspace", "add", "team", "--owner", "olga"], env);
  await codexos([...home, "member", "set", "team", "cora", "admin"], env);
  const token = (await codexos([...home, "token", "create", "olga", "--label", "e2e", "--scope", "admin"], env)).trim();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const provider = spawn("node", [join(dirname(new URL(import.meta.url).pathname), "oidc-provider.mjs"), `${url}/api/v1/oidc/callback`, "e2e-client-secret"], { stdio: ["pipe", "pipe", "ignore"] });
  const received = [];
  const receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ event: request.headers["x-codexos-event"], body });
      response.end("ok");
    });
  });
  let server;
  try {
    const issuer = await new Promise((resolve, reject) => {
      provider.stdout.once("data", (chunk) => resolve(String(chunk).trim().replace(/^ready /, "")));
      provider.on("exit", (code) => reject(new Error(`the OIDC provider exited with ${code}`)));
    });
    provider.stdout.resume();
    ({ server } = await serveTeam(home, env, ["--bind", `127.0.0.1:${port}`, "--oidc-issuer", issuer, "--oidc-client-id", "codexos", "--public-url", url, "--allow-private-webhooks"]));
    const api = bearerApi(url, token);
    const echo = {
      version: 2,
      name: "echo",
      description: "answers what it was sent",
      state: { event: "object" },
      nodes: [
        { id: "in", kind: "input", fields: ["event"] },
        { id: "out", kind: "output", keys: ["event"] },
      ],
      edges: [{ from: "in", to: "out" }],
    };
    await api("PUT", "/api/v1/workspaces/team/flows/echo", echo);

    // Cora signs in from the app through the provider, in "her browser".
    await browser.$('[data-testid="open-team"]').click();
    await fillIn('[data-testid="team-server"]', url);
    await browser.$('[data-testid="team-sign-in-sso"]').click();
    const shownUrl = await browser.$('[data-testid="team-sso-url"]');
    await shownUrl.waitForDisplayed({ timeout: 10_000 });
    const code = await browser.$('[data-testid="team-sso-code"]').getText();
    const web = oidcBrowser();
    let page = await web.go(await shownUrl.getText());
    page = await web.go(web.action(page), { prompt: "login", login: "cora", password: "any" });
    page = await web.go(web.action(page), { prompt: "consent" });
    assert.equal(page.status, 200, page.page);
    assert.ok(page.page.includes(code), `the confirmation page does not show ${code}: ${page.page}`);
    const confirm = /name=confirm value="([^"]+)"/.exec(page.page)[1];
    await web.go(web.action(page), { confirm });
    const role = await browser.$('[data-testid="team-role"]');
    await role.waitForDisplayed({ timeout: 20_000, timeoutMsg: `not signed in: ${await browser.$('[data-testid="team-panel"]').getText()}` });
    assert.match(await browser.$('[data-testid="team-who"]').getText(), /^cora @/);

    // A webhook trigger: its secret shown once; a signed request runs the flow.
    const automation = await browser.$('[data-testid="team-automation"]');
    await automation.waitForDisplayed({ timeout: 10_000 });
    await browser.$('[data-testid="team-trigger-flow"]').selectByAttribute("value", "echo");
    await browser.$('[data-testid="team-add-trigger"]').click();
    const secret = await browser.$('[data-testid="team-secret"]');
    await secret.waitForDisplayed({ timeout: 10_000, timeoutMsg: `no secret: ${await automation.getText()}` });
    await browser.$('[data-testid="team-trigger"][data-kind="webhook"]').waitForDisplayed({ timeout: 10_000 });
    const triggerSecret = await secret.getText();
    // An outgoing webhook to a receiver here, then the trigger fires.
    await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    await fillIn('[data-testid="team-webhook-url"]', `http://127.0.0.1:${receiver.address().port}/hook`);
    await browser.$('[data-testid="team-add-webhook"]').click();
    await browser.$('[data-testid="team-webhook"]').waitForDisplayed({ timeout: 10_000 });
    const triggers = await api("GET", "/api/v1/workspaces/team/triggers");
    const body = JSON.stringify({ ref: "main" });
    const seconds = Math.floor(Date.now() / 1000);
    const { createHmac } = await import("node:crypto");
    const signature = createHmac("sha256", triggerSecret).update(`${seconds}.${body}`).digest("hex");
    const fired = await fetch(`${url}/api/v1/hooks/${triggers[0].id}`, { method: "POST", headers: { "content-type": "application/json", "x-codexos-signature": `t=${seconds},v1=${signature}` }, body });
    assert.equal(fired.status, 202, await fired.text());
    await browser.waitUntil(async () => received.some((delivery) => delivery.event === "run.succeeded"), { timeout: 20_000, timeoutMsg: `nothing delivered: ${JSON.stringify(received)}` });
    assert.equal(JSON.parse(received.find((delivery) => delivery.event === "run.succeeded").body).output.event.ref, "main");
    await browser.$('[data-testid="team-webhook-log"]').click();
    await browser.waitUntil(async () => /run\.succeeded — delivered/.test(await browser.$('[data-testid="team-deliveries"]').getText()), { timeout: 10_000 });
    // A schedule, shown with its next time.
    await browser.$('[data-testid="team-trigger-kind"]').selectByAttribute("value", "cron");
    await fillIn('[data-testid="team-trigger-schedule"]', "0 9 * * 1-5");
    await browser.$('[data-testid="team-add-trigger"]').click();
    const cron = await browser.$('[data-testid="team-trigger"][data-kind="cron"]');
    await cron.waitForDisplayed({ timeout: 10_000 });
    assert.match(await cron.getText(), /next \d{4}-\d\d-\d\d 09:00 UTC/);
    await screenshot("team-automation");
    await browser.$('[data-testid="team-sign-out"]').click();
    await browser.$('button[aria-label="Close team panel"]').click();
  } finally {
    server?.kill();
    provider.kill();
    receiver.close();
    await rm(work, { recursive: true, force: true });
  }
});
