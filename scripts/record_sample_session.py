"""Record notebooks/data/sample_session.jsonl: a real call with the local backend, scripted.

Run: .venv/bin/python scripts/record_sample_session.py
The session has spoken and typed turns, a tool call, and an interrupted reply. Usage figures
come from the local backend, so they are simulated.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import rt_notebook as rt
from rt_notebook.local.speech import synthesize
from rt_notebook.testing import LocalFrontend

OUT = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "sample_session.jsonl"

SCENARIO = [
    {
        "user_said": "What is the area of a three by four rectangle?",
        "call": "rectangle_area",
        "arguments": {"width": 3, "height": 4},
    },
    {"say": "The area is twelve square units."},
    {
        "say": "Once upon a time there was a rectangle who wanted to become a square, so it "
        "practised standing very straight every single morning, and every evening it "
        "measured its sides again, hoping that one day they would finally be equal."
    },
    {"user_said": "Stop, thank you.", "say": "Okay, I will stop there."},
    {"say": "Squares have four equal sides and four right angles."},
]


async def record() -> Path:
    s = rt.RealtimeSession(instructions="You are a geometry tutor.", voice="marin")

    @s.tool
    def rectangle_area(width: float, height: float) -> float:
        """Area of a rectangle.

        Args:
            width: Width in units.
            height: Height in units.
        """
        return width * height

    frontend = LocalFrontend(s, scenario=SCENARIO)
    s.connect()
    await frontend.wait("session.created")
    frontend.say(synthesize("What is the area of a three by four rectangle?", voice="ash").samples)
    await frontend.wait("output_audio_buffer.stopped", count=1, timeout=60)
    s.send_text("Tell me a story about a rectangle.")
    await frontend.wait("response.output_audio_transcript.delta", count=15, timeout=60)
    frontend.say(synthesize("Stop, thank you.", voice="ash").samples)
    await frontend.wait("response.done", count=4, timeout=60)
    await frontend.wait("output_audio_buffer.stopped", count=2, timeout=60)
    s.send_text("What is special about squares?")
    await frontend.wait("response.done", count=5, timeout=60)
    await frontend.wait("output_audio_buffer.stopped", count=3, timeout=60)
    await frontend.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    return s.save(OUT)


if __name__ == "__main__":
    path = asyncio.run(record())
    session = rt.load_session(path)
    print(f"wrote {path}: {len(session.events)} events")
    print(session.transcript)
