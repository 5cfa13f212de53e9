"""The simulator's vector stores, containers and conversations, driven by the official SDK; every
reply validates against OpenAI's schemas (raw JSON); responses use them (file search over real
documents, a container shared across responses, a conversation that grows by each turn); with
``key_scoped`` another key sees none of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from longhaul.simulator import SimulatorHandle, start_simulator

DOC = (
    b"Lighthouse keepers logged the weather every four hours.\n"
    b"The Fresnel lens focused the lamp into a beam visible for twenty miles.\n"
)


class Raw:
    def __init__(self, url: str, key: str = "sk-test") -> None:
        self.http = httpx2.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        reply = self.http.request(method, path, json=body, **kw)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture
def raw(sim: SimulatorHandle) -> Raw:
    return Raw(sim.url)


def test_vector_store_files_batches_search(client: openai.OpenAI, raw: Raw, schemas: Any) -> None:
    doc = client.files.create(file=("lighthouse.txt", DOC), purpose="assistants")
    other = client.files.create(file=("other.txt", b"Nothing about lamps."), purpose="assistants")
    store = client.vector_stores.create(name="notes", metadata={"team": "a"})
    assert (store.status, store.file_counts.total) == ("completed", 0)
    added = client.vector_stores.files.create(
        vector_store_id=store.id, file_id=doc.id, attributes={"year": 1890}
    )
    assert (added.id, added.status, added.vector_store_id) == (doc.id, "completed", store.id)
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[other.id])
    assert (batch.status, batch.file_counts.completed) == ("completed", 1)
    assert [f.id for f in client.vector_stores.file_batches.list_files(
        vector_store_id=store.id, batch_id=batch.id
    )] == [other.id]  # fmt: skip
    assert {f.id for f in client.vector_stores.files.list(vector_store_id=store.id)} == {
        doc.id,
        other.id,
    }
    hits = client.vector_stores.search(vector_store_id=store.id, query="Fresnel lens beam")
    assert [h.file_id for h in hits] == [doc.id] and hits.data[0].score == 1.0
    assert "Fresnel" in hits.data[0].content[0].text
    filtered = client.vector_stores.search(
        vector_store_id=store.id,
        query="lens",
        filters={"type": "gt", "key": "year", "value": 1900},
    )
    assert list(filtered) == []
    assert store.id in [s.id for s in client.vector_stores.list()]
    renamed = client.vector_stores.update(vector_store_id=store.id, name="renamed")
    assert renamed.name == "renamed" and renamed.file_counts.total == 2
    assert renamed.usage_bytes == len(DOC) + len(b"Nothing about lamps.")

    schemas.check("VectorStoreObject", raw("GET", f"/vector_stores/{store.id}"))
    schemas.check("ListVectorStoresResponse", raw("GET", "/vector_stores"))
    schemas.check("VectorStoreFileObject", raw("GET", f"/vector_stores/{store.id}/files/{doc.id}"))
    schemas.check("ListVectorStoreFilesResponse", raw("GET", f"/vector_stores/{store.id}/files"))
    schemas.check(
        "VectorStoreFileBatchObject",
        raw("GET", f"/vector_stores/{store.id}/file_batches/{batch.id}"),
    )
    schemas.check(
        "VectorStoreFileContentResponse",
        raw("GET", f"/vector_stores/{store.id}/files/{doc.id}/content"),
    )
    schemas.check(
        "VectorStoreSearchResultsPage",
        raw("POST", f"/vector_stores/{store.id}/search", {"query": ["lamp", "weather"]}),
    )
    schemas.check(
        "DeleteVectorStoreFileResponse",
        raw("DELETE", f"/vector_stores/{store.id}/files/{other.id}"),
    )
    schemas.check("DeleteVectorStoreResponse", raw("DELETE", f"/vector_stores/{store.id}"))
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_a_store_needs_files_the_key_can_see(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.create(name="x", file_ids=["file-nope"])
    assert err.value.param == "file_ids[0]"


def test_file_search_reads_the_store(client: openai.OpenAI, wait_terminal: Any) -> None:
    doc = client.files.create(file=("lighthouse.txt", DOC), purpose="assistants")
    store = client.vector_stores.create(name="notes", file_ids=[doc.id])
    response = client.responses.create(
        model="gpt-5.5",
        input="What did the Fresnel lens do?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
        include=["file_search_call.results"],
        background=True,
    )
    done = wait_terminal(response.id)
    call = next(item for item in done.output if item.type == "file_search_call")
    assert [r.file_id for r in call.results] == [doc.id]
    assert "Fresnel" in call.results[0].text
    cited = done.output[-1].content[0].annotations
    assert cited[0].file_id == doc.id


def test_containers_shared_across_responses(
    client: openai.OpenAI, raw: Raw, schemas: Any, wait_terminal: Any
) -> None:
    upload = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="user_data")
    container = client.containers.create(name="analysis", file_ids=[upload.id])
    schemas.check("ContainerResource", raw("GET", f"/containers/{container.id}"))
    schemas.check("ContainerListResource", raw("GET", "/containers"))
    files = list(client.containers.files.list(container.id))
    assert [(f.path, f.source) for f in files] == [("/mnt/data/data.csv", "user")]
    put = client.containers.files.create(container.id, file=("notes.txt", b"hello"))
    assert client.containers.files.content.retrieve(put.id, container_id=container.id).read() == (
        b"hello"
    )
    schemas.check("ContainerFileResource", raw("GET", f"/containers/{container.id}/files/{put.id}"))

    tool = {"type": "code_interpreter", "container": container.id}
    for _ in range(2):
        done = wait_terminal(
            client.responses.create(
                model="gpt-5.5", input="Plot it", tools=[tool], background=True
            ).id
        )
        call = next(item for item in done.output if item.type == "code_interpreter_call")
        assert call.container_id == container.id
    made = [f for f in client.containers.files.list(container.id) if f.source == "assistant"]
    assert len(made) == 2  # one file per response, both in the one container

    auto_tool = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [upload.id]}}
    auto = client.responses.create(
        model="gpt-5.5", input="Plot it", tools=[auto_tool], background=True
    )
    new = next(i for i in wait_terminal(auto.id).output if i.type == "code_interpreter_call")
    assert new.container_id != container.id
    assert "/mnt/data/data.csv" in [f.path for f in client.containers.files.list(new.container_id)]

    client.containers.files.delete(put.id, container_id=container.id)
    client.containers.delete(container.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(container.id)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="gpt-5.5", input="x", tools=[tool], background=True)
    assert err.value.param == "tools[0].container"


def test_conversations_grow_by_each_turn(
    client: openai.OpenAI, raw: Raw, schemas: Any, wait_terminal: Any
) -> None:
    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Remember: the code is 42."}],
        metadata={"topic": "codes"},
    )
    schemas.check("ConversationResource", raw("GET", f"/conversations/{conv.id}"))
    first = wait_terminal(
        client.responses.create(
            model="gpt-5.5", input="What is the code?", conversation=conv.id, background=True
        ).id
    )
    assert first.conversation.id == conv.id
    second = wait_terminal(
        client.responses.create(
            model="gpt-5.5",
            input="And twice that?",
            conversation={"id": conv.id},
            background=True,
        ).id
    )
    assert second.usage.input_tokens > first.usage.input_tokens  # the earlier turns count
    items = list(client.conversations.items.list(conv.id, order="asc"))
    texts = [i.content[0].text for i in items if i.type == "message" and i.role == "user"]
    assert texts == ["Remember: the code is 42.", "What is the code?", "And twice that?"]
    assert sum(1 for i in items if i.type == "message" and i.role == "assistant") == 2
    listed = raw("GET", f"/conversations/{conv.id}/items")
    schemas.check("ConversationItemList", listed)
    for item in listed["data"]:
        schemas.check("ConversationItem", item)

    added = client.conversations.items.create(
        conv.id, items=[{"type": "message", "role": "user", "content": "A note."}]
    )
    note = added.data[0]
    assert client.conversations.items.retrieve(note.id, conversation_id=conv.id).id == note.id
    client.conversations.items.delete(note.id, conversation_id=conv.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(note.id, conversation_id=conv.id)
    assert client.conversations.update(conv.id, metadata={"topic": "x"}).metadata == {"topic": "x"}
    schemas.check("DeletedConversationResource", raw("DELETE", f"/conversations/{conv.id}"))
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="gpt-5.5", input="x", conversation=conv.id, background=True)
    assert err.value.param == "conversation"


@pytest.fixture(scope="module")
def scoped() -> Iterator[SimulatorHandle]:
    with start_simulator(key_scoped=True, queued_seconds=0.05, run_seconds=0.1) as handle:
        yield handle


def test_with_key_scoped_another_key_sees_none_of_them(scoped: SimulatorHandle) -> None:
    a = openai.OpenAI(base_url=scoped.url, api_key="sk-a", max_retries=0)
    b = openai.OpenAI(base_url=scoped.url, api_key="sk-b", max_retries=0)
    doc = a.files.create(file=("d.txt", DOC), purpose="assistants")
    store = a.vector_stores.create(name="a", file_ids=[doc.id])
    container = a.containers.create(name="a")
    conv = a.conversations.create()
    assert list(b.vector_stores.list()) == [] and list(b.containers.list()) == []
    refused = [
        lambda: b.vector_stores.retrieve(store.id),
        lambda: b.vector_stores.files.list(vector_store_id=store.id),
        lambda: b.vector_stores.search(vector_store_id=store.id, query="lens"),
        lambda: b.vector_stores.create(name="b", file_ids=[doc.id]),
        lambda: b.containers.retrieve(container.id),
        lambda: b.containers.files.list(container.id),
        lambda: b.containers.create(name="b", file_ids=[doc.id]),
        lambda: b.conversations.retrieve(conv.id),
        lambda: b.conversations.items.list(conv.id),
        lambda: b.responses.create(model="m", input="x", conversation=conv.id),
        lambda: b.responses.create(
            model="m", input="x", tools=[{"type": "code_interpreter", "container": container.id}]
        ),
        lambda: b.responses.create(
            model="m", input="x", tools=[{"type": "file_search", "vector_store_ids": [store.id]}]
        ),
        lambda: b.responses.create(
            model="m",
            input=[{"role": "user", "content": [{"type": "input_file", "file_id": doc.id}]}],
        ),
    ]
    for call in refused:
        with pytest.raises(openai.NotFoundError):
            call()
    assert a.vector_stores.retrieve(store.id).file_counts.total == 1
    assert a.containers.retrieve(container.id).id == container.id
    assert a.conversations.retrieve(conv.id).id == conv.id
