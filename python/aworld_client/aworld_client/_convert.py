"""Conversion between the typed domain types and the generated protobuf classes.

Every domain type is a dataclass whose fields are named after the proto fields, with three
deliberate differences that make the Python side pleasant to use:

* a real ``oneof`` becomes a single attribute named after the oneof, holding whichever member
  is set (the members of a oneof have distinct domain types, so the type says which one);
* message fields and proto3 ``optional`` fields are ``None`` when absent;
* a ``Payload`` field also takes a plain value (``Task(input="hi")``), turned into a Payload
  by ``Payload.from_value`` when the object is built;
* well-known types become native values (``Timestamp`` -> aware ``datetime``, ``Duration`` ->
  ``timedelta``) and ``HookNames`` becomes ``list[str]``.

The conversion plan of each class is derived once from the proto descriptor, so the per-call
cost is a loop over precomputed closures rather than descriptor reflection.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self, TypeVar

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message as PbMessage

__all__ = ["ProtoEnum", "ProtoModel", "proto_enum", "proto_model", "domain_type_for"]

_PAYLOAD = "aworld.runtime.v1.Payload"
_MODELS: dict[str, type[ProtoModel]] = {}
_ENUMS: dict[str, type[ProtoEnum]] = {}

ToProto = Callable[[Any], Any]
FromProto = Callable[[Any], Any]
# A plan step writes one attribute into the constructor kwargs of the proto message.
WriteStep = Callable[[Any, dict[str, Any]], None]
PlanStep = tuple[str, WriteStep, FromProto]
# Descriptors are typed loosely: upb and pure-Python descriptors are different classes.
Desc = Any


class ProtoEnum(enum.IntEnum):
    """An enum mirroring a proto enum, without the ``<ENUM>_`` value prefix.

    Proto3 enums are open: a newer peer may send a value this code does not know. Such values
    become pseudo-members named ``UNKNOWN_<n>`` that keep their number, so they survive a round
    trip instead of being dropped or raising.
    """

    @classmethod
    def _missing_(cls, value: object) -> ProtoEnum | None:
        if not isinstance(value, int):
            return None
        pseudo = int.__new__(cls, value)
        pseudo._name_ = f"UNKNOWN_{value}"
        pseudo._value_ = value
        return pseudo


class ProtoModel:
    """Base of every domain type: adds ``to_proto`` / ``from_proto`` driven by the descriptor."""

    __slots__ = ()
    _pb: ClassVar[type[PbMessage]]
    _plan: ClassVar[list[PlanStep] | None] = None
    _payload_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in type(self)._payload_fields:
            value = getattr(self, name)
            payload: Any = _MODELS[_PAYLOAD]
            if value is not None and not isinstance(value, payload):
                try:
                    object.__setattr__(self, name, payload.from_value(value))
                except TypeError as error:
                    raise TypeError(f"{type(self).__name__}.{name}: {error}") from None

    def to_proto(self) -> Any:
        """Return the generated protobuf message for this value."""
        plan = type(self)._plan or _build_plan(type(self))
        kwargs: dict[str, Any] = {}
        for attr, to_pb, _ in plan:
            value = getattr(self, attr)
            if value is not None:
                to_pb(value, kwargs)
        return self._pb(**kwargs)

    @classmethod
    def from_proto(cls, message: Any) -> Self:
        """Build the domain value from a generated protobuf message of the matching type."""
        if message.DESCRIPTOR is not cls._pb.DESCRIPTOR:
            raise TypeError(
                f"{cls.__name__}.from_proto expects {cls._pb.DESCRIPTOR.full_name}, "
                f"got {message.DESCRIPTOR.full_name}"
            )
        plan = cls._plan or _build_plan(cls)
        return cls(**{attr: from_pb(message) for attr, _, from_pb in plan})

    def to_bytes(self) -> bytes:
        """Serialise to the protobuf wire format."""
        return bytes(self.to_proto().SerializeToString())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse the protobuf wire format."""
        message = cls._pb()
        message.ParseFromString(data)
        return cls.from_proto(message)


M = TypeVar("M", bound=type)
E = TypeVar("E", bound=type[ProtoEnum])


def proto_model(pb_class: type[PbMessage]) -> Callable[[M], M]:
    """Register a dataclass as the domain type of ``pb_class``."""

    def register(cls: M) -> M:
        if not dataclasses.is_dataclass(cls) or not issubclass(cls, ProtoModel):
            raise TypeError(f"{cls.__name__} must be a ProtoModel dataclass")
        cls._pb = pb_class
        descriptor: Desc = pb_class.DESCRIPTOR
        cls._payload_fields = tuple(
            f.name
            for f in descriptor.fields
            if f.type == FieldDescriptor.TYPE_MESSAGE
            and f.message_type.full_name == _PAYLOAD
            and not _is_repeated(f)
            and (f.containing_oneof is None or _is_synthetic(f.containing_oneof))
        )
        _MODELS[pb_class.DESCRIPTOR.full_name] = cls
        return cls

    return register


def proto_enum(pb_enum: Any) -> Callable[[E], E]:
    """Register a ProtoEnum as the domain type of a generated enum, checking it is complete."""

    def register(cls: E) -> E:
        descriptor: Desc = pb_enum.DESCRIPTOR
        prefix = _enum_prefix(descriptor)
        expected = {v.name.removeprefix(prefix): v.number for v in descriptor.values}
        actual = {m.name: int(m.value) for m in cls}
        if expected != actual:
            raise TypeError(f"{cls.__name__} does not match {descriptor.full_name}: {expected}")
        _ENUMS[descriptor.full_name] = cls
        return cls

    return register


def domain_type_for(full_name: str) -> type[ProtoModel] | type[ProtoEnum] | None:
    """The registered domain type for a proto message or enum full name, if any."""
    return _MODELS.get(full_name) or _ENUMS.get(full_name)


def _enum_prefix(descriptor: Desc) -> str:
    # Buf's STANDARD lint makes every value start with the UPPER_SNAKE enum name.
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(descriptor.name))
    return snake.upper() + "_"


# --- well-known and special message types ---------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp_to(value: datetime) -> timestamp_pb2.Timestamp:
    # What Timestamp.FromDatetime computes (a naive datetime is UTC), at a third of its cost:
    # timedelta normalises like Timestamp does (whole seconds floored, nanos non-negative).
    delta = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000
    )


def _timestamp_from(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _duration_to(value: timedelta) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(value)
    return d


def _duration_from(d: duration_pb2.Duration) -> timedelta:
    return d.ToTimedelta()


def _hook_names_to(names: list[str]) -> Any:
    from aworld_client._proto.aworld.runtime.v1 import task_pb2

    return task_pb2.HookNames(names=names)


_SPECIAL: dict[str, tuple[ToProto, FromProto]] = {
    "google.protobuf.Timestamp": (_timestamp_to, _timestamp_from),
    "google.protobuf.Duration": (_duration_to, _duration_from),
    "aworld.runtime.v1.HookNames": (_hook_names_to, lambda m: list(m.names)),
}


def _message_codec(descriptor: Desc) -> tuple[ToProto, FromProto]:
    special = _SPECIAL.get(descriptor.full_name)
    if special is not None:
        return special
    model = _MODELS.get(descriptor.full_name)
    if model is None:
        raise TypeError(f"no domain type registered for {descriptor.full_name}")

    def to_pb(value: Any) -> Any:
        if not isinstance(value, model):
            raise TypeError(
                f"expected {model.__name__} for a {descriptor.name} field, got "
                f"{type(value).__name__} (Task.from_dict reads plain data)"
            )
        return value.to_proto()

    return to_pb, model.from_proto


def _value_codec(field: Desc) -> tuple[ToProto, FromProto]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message_codec(field.message_type)
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_cls = _ENUMS.get(field.enum_type.full_name)
        if enum_cls is None:
            raise TypeError(f"no domain enum registered for {field.enum_type.full_name}")
        return int, enum_cls
    return (lambda v: v), (lambda v: v)


# --- per-class plans -------------------------------------------------------------------------


def _build_plan(cls: type[ProtoModel]) -> list[PlanStep]:
    descriptor: Desc = cls._pb.DESCRIPTOR
    plan: list[PlanStep] = []
    for oneof in descriptor.oneofs:
        if not _is_synthetic(oneof):
            plan.append(_oneof_step(oneof))
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is None or _is_synthetic(oneof):
            plan.append(_field_step(field))
    attrs = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    planned = {attr for attr, _, _ in plan}
    if attrs != planned:
        raise TypeError(f"{cls.__name__} fields {sorted(attrs)} != proto fields {sorted(planned)}")
    cls._plan = plan
    return plan


def _is_synthetic(oneof: Desc) -> bool:
    # proto3 `optional` is implemented as a one-field oneof named "_<field>".
    return len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}"


def _field_step(field: Desc) -> PlanStep:
    name = field.name
    if _is_map(field):
        _, value_from = _value_codec(field.message_type.fields_by_name["value"])
        value_to, _ = _value_codec(field.message_type.fields_by_name["value"])

        def map_to(value: dict[Any, Any], out: dict[str, Any]) -> None:
            if value:
                out[name] = {k: value_to(v) for k, v in value.items()}

        return name, map_to, lambda m: {k: value_from(v) for k, v in getattr(m, name).items()}
    to_pb, from_pb = _value_codec(field)
    if _is_repeated(field):

        def list_to(value: list[Any], out: dict[str, Any]) -> None:
            if value:
                out[name] = [to_pb(v) for v in value]

        return name, list_to, lambda m: [from_pb(v) for v in getattr(m, name)]

    def single_to(value: Any, out: dict[str, Any]) -> None:
        out[name] = to_pb(value)

    default_type = _SKIP_DEFAULT.get(field.type)
    if default_type is not None and not field.has_presence:
        # A proto3 scalar without presence is not serialised at its default value, so leaving
        # the default out of the constructor gives the same message for less work. A value of
        # another type is still passed on, to fail as before.
        if field.type == FieldDescriptor.TYPE_ENUM:

            def enum_to(value: Any, out: dict[str, Any]) -> None:
                if value or not isinstance(value, int):
                    out[name] = int(value)

            return name, enum_to, lambda m: from_pb(getattr(m, name))

        def scalar_to(value: Any, out: dict[str, Any]) -> None:
            if value or type(value) is not default_type:
                out[name] = value

        return name, scalar_to, lambda m: getattr(m, name)

    if field.has_presence:
        return name, single_to, lambda m: from_pb(getattr(m, name)) if m.HasField(name) else None
    return name, single_to, lambda m: from_pb(getattr(m, name))


# Scalar field types whose default value is one falsy value of one Python type (not floats:
# -0.0 is serialised), mapped to that type; enums are ints too.
_SKIP_DEFAULT: dict[int, type] = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_BYTES: bytes,
    FieldDescriptor.TYPE_BOOL: bool,
    FieldDescriptor.TYPE_ENUM: int,
    FieldDescriptor.TYPE_INT32: int,
    FieldDescriptor.TYPE_INT64: int,
    FieldDescriptor.TYPE_UINT32: int,
    FieldDescriptor.TYPE_UINT64: int,
    FieldDescriptor.TYPE_SINT32: int,
    FieldDescriptor.TYPE_SINT64: int,
    FieldDescriptor.TYPE_FIXED32: int,
    FieldDescriptor.TYPE_FIXED64: int,
    FieldDescriptor.TYPE_SFIXED32: int,
    FieldDescriptor.TYPE_SFIXED64: int,
}


def _oneof_step(oneof: Desc) -> PlanStep:
    members: dict[str, tuple[ToProto, FromProto]] = {}
    by_type: dict[type, str] = {}
    for field in oneof.fields:
        members[field.name] = _value_codec(field)
        by_type[_python_type(field)] = field.name

    def to_pb(value: Any, out: dict[str, Any]) -> None:
        name = by_type.get(type(value))
        if name is None:
            raise TypeError(f"{type(value).__name__} is not a member of oneof {oneof.full_name}")
        out[name] = members[name][0](value)

    def from_pb(message: Any) -> Any:
        name = message.WhichOneof(oneof.name)
        return None if name is None else members[name][1](getattr(message, name))

    return oneof.name, to_pb, from_pb


def _python_type(field: Desc) -> type:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        model = _MODELS.get(field.message_type.full_name)
        if model is None:
            raise TypeError(f"no domain type registered for {field.message_type.full_name}")
        return model
    scalar: dict[int, type] = {
        FieldDescriptor.TYPE_STRING: str,
        FieldDescriptor.TYPE_BYTES: bytes,
        FieldDescriptor.TYPE_BOOL: bool,
        FieldDescriptor.TYPE_DOUBLE: float,
        FieldDescriptor.TYPE_FLOAT: float,
    }
    if field.type in scalar:
        return scalar[field.type]
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _ENUMS[field.enum_type.full_name]
    return int


def _is_map(field: Desc) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
        and _is_repeated(field)
    )


def _is_repeated(field: Desc) -> bool:
    # `label` is deprecated in newer protobuf releases in favour of `is_repeated`.
    is_repeated = getattr(field, "is_repeated", None)
    if isinstance(is_repeated, bool):
        return is_repeated
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)  # pragma: no cover
