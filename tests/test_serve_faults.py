"""The demo server under faults: scripts/serve_faults.py at its smallest setting, every case ok;
and the limits it relies on, one by one in process."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from test_demo_api import client_for, save_checkpoint, tiny_model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")
SCRIPT = Path(__file__).parents[1] / "scripts" / "serve_faults.py"


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    save_checkpoint(tiny_model(), folder / "tiny.ckpt", ["stripes"])
    return folder


def load_script():
    spec = importlib.util.spec_from_file_location("serve_faults", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_fault_case_is_answered_as_expected(tmp_path: Path, capsys) -> None:
    script = load_script()
    out = tmp_path / "faults.json"
    argv = ["--clients", "4", "--requests", "5", "--queue", "1", "--memory-requests", "100",
            "--timeout", "1", "--max-seconds", "120", "--out", str(out)]  # fmt: skip
    code = script.main(argv)
    report = json.loads(out.read_text())
    failed = [row for row in report["cases"] if not row["ok"]]
    assert code == 0 and report["ok"] and not failed, failed
    cases = {row["case"]: row for row in report["cases"]}
    printed = capsys.readouterr().out
    assert len(cases) >= 20 and "| chunked body 64x the limit | 413 | 413 | yes |" in printed
    assert cases["path tricks: models, paintings, static"]["got"] == "404 x40"
    sent = cases["chunked body 64x the limit"]["detail"]  # "N MiB of 64 MiB sent ..."
    assert int(sent.split()[0]) < 64


def test_a_header_block_over_the_limit_is_431_and_closes(models: Path) -> None:
    client = client_for(models, max_header_bytes=1024)
    assert client.get("/api/config", headers={"x-small": "a" * 500}).status_code == 200
    response = client.get("/api/config", headers={"x-big": "a" * 1100})
    assert response.status_code == 431 and "1024 bytes" in response.json()["error"]
    assert response.headers["connection"] == "close"


def test_an_upload_over_the_limit_is_refused_while_it_streams() -> None:
    import anyio
    from starlette.requests import Request

    from fastnst.demo.limits import read_limited
    from fastnst.demo.uploads import UploadError

    received = []

    async def receive() -> dict:  # a chunked upload of 100 x 100 bytes, no Content-Length
        received.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": len(received) < 100}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    with pytest.raises(UploadError) as info:
        anyio.run(read_limited, request, 1000)
    assert info.value.status == 413 and len(received) == 11  # refused at 1,100 of 10,000 bytes


def test_a_form_is_refused_with_what_to_send(models: Path) -> None:
    response = client_for(models).post(
        "/api/stylize", params={"model": "tiny.ckpt"}, content=b"--x\r\n\r\n",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )  # fmt: skip
    assert response.status_code == 415 and "send the image's bytes" in response.json()["error"]


def test_the_demo_command_gives_uvicorn_its_limits(models: Path, monkeypatch) -> None:
    import uvicorn

    from fastnst.app.main import main
    from fastnst.demo.listener import HeaderDeadlineProtocol

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    main(["demo", "--models", str(models), "--header-timeout", "3", "--max-header-kb", "8"])
    options = calls[-1]
    assert issubclass(options["http"], HeaderDeadlineProtocol)
    assert options["http"].header_timeout == 3.0
    assert options["h11_max_incomplete_event_size"] == 8 * 1024
    assert options["limit_concurrency"] == 256 and options["host"] == "127.0.0.1"


@pytest.mark.parametrize(
    "query",
    [{"style": '{"a": 1e400}'}, {"style": '{"a": NaN}'}, {"style": '{"a": [1]}'},
     {"style": '{"a": "x"}'}, {"strength": "nan"}, {"strength": "inf"}, {"strength": "-0.1"},
     {"preserve_color": "../../x"}],
)  # fmt: skip
def test_hostile_options_are_one_line_400s(query: dict) -> None:
    from fastnst.demo.limits import parse_options
    from fastnst.demo.uploads import UploadError

    with pytest.raises(UploadError) as info:
        parse_options(query)
    assert info.value.status == 400 and "\n" not in str(info.value)
