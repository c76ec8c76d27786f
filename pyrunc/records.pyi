# Type stub for records.py: tells type checkers that records.dataclass makes
# dataclass-like classes (PEP 681), which they cannot infer from its code.
# A stub, not typing.dataclass_transform in records.py itself: records.py is
# imported by the container's init and must not import typing.
from typing import Any, Callable, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")

class FrozenInstanceError(AttributeError): ...

def field(*, default: Any = ..., default_factory: Callable[[], Any] = ...) -> Any: ...
@overload
@dataclass_transform(field_specifiers=(field,))
def dataclass(cls: type[_T], /) -> type[_T]: ...
@overload
@dataclass_transform(field_specifiers=(field,))
def dataclass(*, frozen: bool = False) -> Callable[[type[_T]], type[_T]]: ...
