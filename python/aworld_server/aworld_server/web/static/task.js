// The task page: a live timeline from the server-sent events of /api/v1/tasks/{id}/events,
// and the run-node tree and trajectory re-read from the JSON API as events arrive.
"use strict";
const taskId = document.body.dataset.taskId;
const api = `/api/v1/tasks/${encodeURIComponent(taskId)}`;
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props || {};
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset || {});
  for (const child of children) node.append(child);
  return node;
}
function payload(p) {
  if (!p) return "";
  if ("json" in p) return p.json;
  if ("text" in p) return p.text;
  return JSON.stringify(p);
}
function seconds(start, end) {
  if (!start) return "";
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
function statusName(s) { return (s || "").replace(/^(TASK_STATUS_|RUN_NODE_STATUS_)/, "").toLowerCase(); }
function badge(s) { const n = statusName(s); return el("span", { className: `badge s-${n}`, textContent: n }); }

function phases(list) {
  if (!list || !list.length) return "";
  return " · " + list.map((p) => `${(p.phase || "").replace("PHASE_", "").toLowerCase()} ${p.ended ? "ended" : "started"}`).join(", ");
}

function describe(event) {
  const [kind, body] = Object.entries(event).find(([k]) => !["taskId", "seq", "time", "sessionId"].includes(k)) || ["?", {}];
  switch (kind) {
    case "taskSubmitted": return ["submitted", body.task?.name || ""];
    // A status change carries the lifecycle phases crossed with it; a step's node its model call.
    case "statusChanged": return ["status", statusName(body.status) + (body.reason ? ` (${body.reason})` : "") + phases(body.phases)];
    case "runNodeChanged": return ["node", `${(body.node?.kind || "").replace("RUN_NODE_KIND_", "").toLowerCase()} ${body.node?.name} ${statusName(body.node?.status)}` + (body.llmCall ? ` · model ${body.llmCall.model || ""}` : "")];
    case "toolCallStarted": return ["tool call", `${body.toolName} #${body.attempt || 1} started${body.workerId ? " on " + body.workerId : ""}`];
    case "toolCallFinished": return ["tool call", `${body.toolName} #${body.attempt || 1} ${body.failure ? "failed: " + body.failure.type : "finished"}`];
    case "llmCallFinished": return ["model", `${body.agent} ${body.model || ""} ${body.failure ? "failed" : "answered"}`];
    case "hookDecided": return ["hook", `${body.hookName} at ${body.point}`];
    case "inputRequested": return ["waiting", body.kind || "input"];
    case "inputProvided": return ["input", body.callbackId];
    case "lifecyclePhase": return ["phase", `${(body.phase || "").replace("PHASE_", "").toLowerCase()} ${body.ended ? "ended" : "started"}`];
    case "messageEmitted": return ["message", body.message?.topic || body.message?.category || ""];
    default: return [kind, ""];
  }
}

function renderTree(nodes) {
  const children = new Map();
  for (const n of nodes) {
    const list = children.get(n.parentId || "") || [];
    list.push(n);
    children.set(n.parentId || "", list);
  }
  const ids = new Set(nodes.map((n) => n.id));
  const build = (list) => el("ul", { className: "tree" }, ...list.map((n) => el("li", { dataset: { kind: n.kind } },
    el("span", { className: "kind", textContent: (n.kind || "").replace("RUN_NODE_KIND_", "").toLowerCase() }),
    el("span", { className: "mono", textContent: n.name }), " ", badge(n.status),
    el("span", { className: "dur", textContent: seconds(n.startedAt, n.endedAt) }),
    ...(children.has(n.id) ? [build(children.get(n.id))] : []))));
  const roots = nodes.filter((n) => !n.parentId || !ids.has(n.parentId));
  $("tree").replaceChildren(roots.length ? build(roots) : el("p", { className: "meta", textContent: "no run nodes yet" }));
}

function renderTrajectory(items) {
  const rows = items.map((item) => el("tr", {},
    el("td", { textContent: item.meta?.step ?? "" }),
    el("td", { className: "mono", textContent: item.meta?.agentId || "" }),
    el("td", { className: "mono", textContent: payload(item.state?.input).slice(0, 160) }),
    el("td", { className: "mono", textContent: (item.action?.content || "") + (item.action?.toolCalls || []).map((c) => ` ${c.name}(${payload(c.arguments)})`).join("") }),
    el("td", { className: "mono", textContent: (item.reward?.toolOutputs || []).map(payload).join(" ").slice(0, 160) }),
    el("td", { textContent: item.reward?.status || "" })));
  $("trajectory").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 6, className: "meta", textContent: "no steps yet" }))]));
}

let pending = null;
async function refresh() {
  pending = null;
  const [state, trajectory] = await Promise.all([fetch(`${api}/state`), fetch(`${api}/trajectory`)]);
  if (state.ok) { const s = await state.json(); renderTree(s.nodes || []); $("status").replaceChildren(badge(s.status)); }
  if (trajectory.ok) renderTrajectory((await trajectory.json()).items || []);
}
function soon() { if (pending === null) pending = setTimeout(refresh, 150); }

const stream = new EventSource(`${api}/events`);
stream.onopen = () => { $("live").textContent = "live"; };
stream.onmessage = (message) => {
  const event = JSON.parse(message.data);
  const [what, detail] = describe(event);
  $("timeline").append(el("li", { dataset: { seq: event.seq } },
    el("span", { className: "seq", textContent: event.seq }), el("b", { textContent: what }), " ", detail));
  $("timeline").scrollTop = $("timeline").scrollHeight;
  soon();
};
stream.addEventListener("end", () => { stream.close(); $("live").textContent = "ended"; $("live").className = "meta"; refresh(); });
refresh();
