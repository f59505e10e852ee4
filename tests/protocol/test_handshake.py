"""The connection rules, one sans-I/O piece for both ends: setup first and once; setupComplete first."""

from __future__ import annotations

import pytest

from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.protocol.handshake import ClientHandshake, ServerHandshake
from openlive.protocol.messages import GoAway, RealtimeInput, Setup, SetupComplete

SETUP = Setup(model="models/gemini-live-2.5-flash-native-audio")


def test_the_server_takes_setup_first_and_only_once() -> None:
    handshake = ServerHandshake()
    with pytest.raises(ProtocolError) as first:
        handshake.receive(RealtimeInput(text="hi"))
    assert (
        first.value.code == CloseCode.INVALID_ARGUMENT and "first message must be setup" in first.value.reason
    )
    assert handshake.receive(SETUP) is SETUP and handshake.setup is SETUP
    assert isinstance(handshake.receive(RealtimeInput(text="hi")), RealtimeInput)
    with pytest.raises(ProtocolError) as again:
        handshake.receive(SETUP)
    assert again.value.code == CloseCode.INVALID_ARGUMENT and "only be sent once" in again.value.reason


def test_the_client_sends_setup_first_and_only_once() -> None:
    handshake = ClientHandshake()
    with pytest.raises(ValueError, match="first message must be setup"):
        handshake.send(RealtimeInput(text="hi"))
    handshake.send(SETUP)
    handshake.send(RealtimeInput(text="hi"))
    with pytest.raises(ValueError, match="only be sent once"):
        handshake.send(SETUP)


def test_the_client_accepts_setup_complete_first_only() -> None:
    with pytest.raises(ProtocolError) as refused:
        ClientHandshake().receive(GoAway(time_left_s=1.0))
    assert "Handshake failure: the server answered setup with GoAway" in refused.value.reason
    handshake = ClientHandshake()
    handshake.receive(SetupComplete())
    assert isinstance(handshake.receive(GoAway(time_left_s=1.0)), GoAway)
