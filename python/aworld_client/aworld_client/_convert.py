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
cost is a loop over precomputed closures rather than descriptor reflection. ``to_proto`` fills
one message in place, nested messages included (a constructor keyword copies a message it is
given, so building children first and passing them up copied each level again: ~3x slower).
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

# Fills a protobuf message (the second argument) in place from a domain value.
Fill = Callable[[Any, Any], None]
FromProto = Callable[[Any], Any]
# A plan step: the attribute, how to write it into the proto message when not None (None: the
# compiled filler writes it inline), how to read it back.
PlanStep = tuple[str, Fill | None, FromProto]
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
    _filler: ClassVar[Fill | None] = None
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
        message = self._pb()
        self._fill(message)
        return message

    def _fill(self, message: Any) -> None:
        """Write this value's fields into ``message`` (a fresh one of the matching type)."""
        filler = type(self)._filler or _build_filler(type(self))
        filler(self, message)

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


def _timestamp_fill(value: datetime, ts: timestamp_pb2.Timestamp) -> None:
    # What Timestamp.FromDatetime computes (a naive datetime is UTC), at a third of its cost:
    # timedelta normalises like Timestamp does (whole seconds floored, nanos non-negative).
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime for a Timestamp field, got {type(value).__name__}")
    delta = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1_000


def _timestamp_from(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _duration_fill(value: timedelta, d: duration_pb2.Duration) -> None:
    d.FromTimedelta(value)


def _duration_from(d: duration_pb2.Duration) -> timedelta:
    return d.ToTimedelta()


def _hook_names_fill(names: list[str], message: Any) -> None:
    message.names.extend(names)


_SPECIAL: dict[str, tuple[Fill, FromProto]] = {
    "google.protobuf.Timestamp": (_timestamp_fill, _timestamp_from),
    "google.protobuf.Duration": (_duration_fill, _duration_from),
    "aworld.runtime.v1.HookNames": (_hook_names_fill, lambda m: list(m.names)),
}


def _message_codec(descriptor: Desc) -> tuple[Fill, FromProto]:
    """How to fill a message of this type in place from its domain value, and read it back."""
    special = _SPECIAL.get(descriptor.full_name)
    if special is not None:
        return special
    model = _MODELS.get(descriptor.full_name)
    if model is None:
        raise TypeError(f"no domain type registered for {descriptor.full_name}")

    def fill(value: Any, message: Any) -> None:
        if not isinstance(value, model):
            raise TypeError(
                f"expected {model.__name__} for a {descriptor.name} field, got "
                f"{type(value).__name__} (Task.from_dict reads plain data)"
            )
        value._fill(message)

    return fill, model.from_proto


def _scalar_codec(field: Desc) -> tuple[Callable[[Any], Any], FromProto]:
    """A scalar or enum field's value to its proto value, and back."""
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_cls = _ENUMS.get(field.enum_type.full_name)
        if enum_cls is None:
            raise TypeError(f"no domain enum registered for {field.enum_type.full_name}")
        return int, enum_cls
    return (lambda v: v), (lambda v: v)


def _is_message(field: Desc) -> bool:
    return bool(field.type == FieldDescriptor.TYPE_MESSAGE)


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


def _build_filler(cls: type[ProtoModel]) -> Fill:
    """Compile the class's fill function: its plan unrolled, scalars set and single message
    fields filled inline.

    Events are converted on every append, field by field; a loop over the plan with a
    closure call per field cost as much again as the fields' own work. Like ``dataclasses``,
    the function is generated source, built once per class from the descriptor.
    """
    plan = cls._plan or _build_plan(cls)
    fields = cls._pb.DESCRIPTOR.fields_by_name
    scope: dict[str, Any] = {}
    lines = ["def fill(self, m):"]
    for i, (attr, step, _) in enumerate(plan):
        lines.append(f"    v = self.{attr}")
        if step is not None:  # lists, maps, oneofs: their step's closure
            scope[f"step{i}"] = step
            lines.append(f"    if v is not None: step{i}(v, m)")
            continue
        field = fields[attr]
        if _is_message(field):
            scope[f"fill{i}"], _ = _message_codec(field.message_type)
            lines.append("    if v is not None:")
            lines.append(f"        c = m.{attr}")
            lines.append("        c.SetInParent()  # present even when v fills nothing in")
            lines.append(f"        fill{i}(v, c)")
        else:
            lines.append(f"    {_scalar_set(field, attr, scope, i)}")
    if len(lines) == 1:
        lines.append("    pass")
    exec("\n".join(lines), scope)  # our own source, from the descriptor
    filler: Fill = scope["fill"]
    cls._filler = filler
    return filler


def _scalar_set(field: Desc, attr: str, scope: dict[str, Any], i: int) -> str:
    """The source line setting a scalar field from ``v``. A proto3 scalar without presence is
    not serialised at its default value, so the default is left unset (less work, the same
    message); a value of another type is still set, to fail as the constructor would."""
    value = "int(v)" if field.type == FieldDescriptor.TYPE_ENUM else "v"
    default_type = _SKIP_DEFAULT.get(field.type)
    if default_type is None or field.has_presence:
        return f"if v is not None: m.{attr} = {value}"
    if field.type == FieldDescriptor.TYPE_ENUM:
        return f"if v is not None and (v or not isinstance(v, int)): m.{attr} = {value}"
    scope[f"type{i}"] = default_type
    return f"if v is not None and (v or type(v) is not type{i}): m.{attr} = v"


def _is_synthetic(oneof: Desc) -> bool:
    # proto3 `optional` is implemented as a one-field oneof named "_<field>".
    return len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}"


def _field_step(field: Desc) -> PlanStep:
    """A field's plan step. Single messages and scalars have no fill closure: the compiled
    filler (``_build_filler``) writes them inline."""
    name = field.name
    if _is_map(field):
        return _map_step(field)
    if _is_message(field):
        fill_one, from_pb = _message_codec(field.message_type)
        if not _is_repeated(field):
            return name, None, lambda m: from_pb(getattr(m, name)) if m.HasField(name) else None

        def fill_list(value: list[Any], message: Any) -> None:
            container = getattr(message, name)
            for item in value:
                fill_one(item, container.add())

        return name, fill_list, lambda m: [from_pb(v) for v in getattr(m, name)]

    to_pb, from_scalar = _scalar_codec(field)
    if _is_repeated(field):

        def extend(value: list[Any], message: Any) -> None:
            if value:
                getattr(message, name).extend([to_pb(v) for v in value])

        return name, extend, lambda m: [from_scalar(v) for v in getattr(m, name)]
    if field.has_presence:
        return name, None, lambda m: from_scalar(getattr(m, name)) if m.HasField(name) else None
    return name, None, lambda m: from_scalar(getattr(m, name))


def _map_step(field: Desc) -> PlanStep:
    name = field.name
    value_field = field.message_type.fields_by_name["value"]
    if _is_message(value_field):
        fill_one, from_pb = _message_codec(value_field.message_type)

        def fill_map(value: dict[Any, Any], message: Any) -> None:
            container = getattr(message, name)
            for key, item in value.items():
                fill_one(item, container[key])

        return name, fill_map, lambda m: {k: from_pb(v) for k, v in getattr(m, name).items()}
    to_pb, from_scalar = _scalar_codec(value_field)

    def update(value: dict[Any, Any], message: Any) -> None:
        if value:
            getattr(message, name).update({k: to_pb(v) for k, v in value.items()})

    return name, update, lambda m: {k: from_scalar(v) for k, v in getattr(m, name).items()}


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
    members: dict[str, Fill] = {}
    readers: dict[str, FromProto] = {}
    by_type: dict[type, str] = {}
    for field in oneof.fields:
        by_type[_python_type(field)] = field.name
        if _is_message(field):
            members[field.name], readers[field.name] = _member_message(field)
        else:
            members[field.name], readers[field.name] = _member_scalar(field)

    def fill(value: Any, message: Any) -> None:
        name = by_type.get(type(value))
        if name is None:
            raise TypeError(f"{type(value).__name__} is not a member of oneof {oneof.full_name}")
        members[name](value, message)

    def from_pb(message: Any) -> Any:
        name = message.WhichOneof(oneof.name)
        return None if name is None else readers[name](getattr(message, name))

    return oneof.name, fill, from_pb


def _member_message(field: Desc) -> tuple[Fill, FromProto]:
    name = field.name
    fill_one, from_pb = _message_codec(field.message_type)

    def fill(value: Any, message: Any) -> None:
        child = getattr(message, name)
        child.SetInParent()  # selects this member even when the value fills nothing in
        fill_one(value, child)

    return fill, from_pb


def _member_scalar(field: Desc) -> tuple[Fill, FromProto]:
    name = field.name
    to_pb, from_scalar = _scalar_codec(field)

    def fill(value: Any, message: Any) -> None:
        setattr(message, name, to_pb(value))

    return fill, from_scalar


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
