"""The web console in a real headless Chromium against a real server: the task list shows a
submitted task, its page updates live while it runs, the run-node tree and the trajectory
render; with auth on, a request without a token is refused."""

from __future__ import annotations

import re

import httpx
from aworld_client import AgentSpec, AsyncClient, ModelConfig, Payload, Swarm, Task
from console_harness import Gates, StartServer
from playwright.async_api import Browser, expect

WAIT_MS = 15_000


def gated_task(key: str, name: str = "console-demo") -> Task:
    script = [
        {"tool_calls": [{"name": "gate", "arguments": {"key": key}}]},
        {"content": "gate said {last_tool_output}"},
    ]
    model = ModelConfig(provider="scripted", options=Payload.of({"script": script}))
    agent = AgentSpec(name="solver", tool_names=["gate"], model=model)
    return Task(name=name, input=Payload.from_text("open the gate"), swarm=Swarm(agents=[agent]))


async def test_a_task_is_listed_and_its_page_follows_it_live(
    start: StartServer, gates: Gates, browser: Browser
) -> None:
    server = await start()
    assert server.http is not None
    async with AsyncClient(server.address) as client:
        task_id = await client.submit(gated_task("g-1"))
    page = await browser.new_page()

    await page.goto(server.http.url + "/")
    row = page.locator("#tasks tr", has_text=task_id)
    await expect(row).to_contain_text("console-demo", timeout=WAIT_MS)
    await page.goto(server.http.url + "/?q=console-d")  # search keeps it
    await expect(page.locator("#tasks tr", has_text=task_id)).to_have_count(1)
    await page.goto(server.http.url + "/?status=SUCCEEDED")  # the filter drops it (running)
    await expect(page.locator("#tasks tr", has_text=task_id)).to_have_count(0)

    await page.goto(server.http.url + "/")
    await page.locator("#tasks a", has_text=task_id).click()
    await expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text("gate #1 started", timeout=WAIT_MS)
    await expect(page.locator("#status")).to_have_text("running", timeout=WAIT_MS)
    await expect(page.locator("#tree li[data-kind=RUN_NODE_KIND_TOOL]")).to_contain_text(
        "gate running", timeout=WAIT_MS
    )

    gates.open("g-1")  # the page, already open, must see the rest arrive
    await expect(timeline).to_contain_text("status succeeded", timeout=WAIT_MS)
    await expect(page.locator("#status")).to_have_text("succeeded", timeout=WAIT_MS)
    await expect(page.locator("#live")).to_have_text("ended", timeout=WAIT_MS)
    tool_node = page.locator("#tree li[data-kind=RUN_NODE_KIND_TOOL]")
    await expect(tool_node).to_contain_text("gate succeeded")
    await expect(tool_node.locator(".dur")).to_have_text(re.compile(r"^\d+(\.\d+)? m?s$"))
    agent_nodes = page.locator("#tree li[data-kind=RUN_NODE_KIND_AGENT]")
    await expect(agent_nodes).to_have_count(2)  # the step that called gate, the answer
    trajectory = page.locator("#trajectory tr")
    await expect(trajectory).to_have_count(2)
    await expect(trajectory.nth(0)).to_contain_text("gate(")
    await expect(trajectory.nth(1)).to_contain_text("gate said passed g-1")


async def test_with_auth_on_requests_without_a_token_are_refused(
    start: StartServer, browser: Browser
) -> None:
    server = await start(
        auth_tokens={"reader-token": ["read"], "admin": ["submit", "read"]}, host="127.0.0.1"
    )
    assert server.http is not None
    url = server.http.url
    async with AsyncClient(server.address, token="admin") as client:
        task_id = await client.submit(gated_task("g-2", name="secret-task"))

    async with httpx.AsyncClient() as http:
        for path in ("/", "/metrics", "/api/v1/tasks", f"/api/v1/tasks/{task_id}/state"):
            assert (await http.get(url + path)).status_code == 401, path
        wrong = {"Authorization": "Bearer nope"}
        assert (await http.get(url + "/api/v1/tasks", headers=wrong)).status_code == 401
        reader = {"Authorization": "Bearer reader-token"}
        listed = await http.get(url + "/api/v1/tasks", headers=reader)
        assert [t["id"] for t in listed.json()["tasks"]] == [task_id]
        submit = await http.post(url + "/api/v1/tasks", headers=reader, json={"task": {}})
        assert submit.status_code == 403  # read scope only

    page = await browser.new_page()
    refused = await page.goto(url + "/")
    assert refused is not None and refused.status == 401
    await expect(page.locator("body")).not_to_contain_text("secret-task")
    await page.fill("input[name=token]", "reader-token")
    await page.click('button:has-text("Sign in")')
    await expect(page.locator("#tasks tr", has_text=task_id)).to_contain_text("secret-task")
