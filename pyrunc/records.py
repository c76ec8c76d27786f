"""Plain-data classes for the create path: the part of `dataclasses` pyrunc uses.

Why not dataclasses: it imports inspect (and with it ast, dis, tokenize,
linecache) and compiles generated source for every class: ~8 ms of CPU to
import and ~5 ms to define the plan's classes, on every create and run, and
~1.7 MiB more in every waiting container init (a fork of the parent, holding
all it imported). Here `__init__`, `__repr__`, `__eq__`, `__hash__` and the
frozen `__setattr__` are shared generic functions: no import beyond the
builtins, no exec.

Supported: `@dataclass` and `@dataclass(frozen=True)` on a class with
annotated fields (own annotations only, in order), plain defaults and
`field(default=..., default_factory=...)`. Semantics follow dataclasses:
defaults stay class attributes, eq compares field tuples of the same class,
frozen + eq hashes the field tuple, eq without frozen is unhashable (unless
the class defines __hash__), assigning to a frozen instance raises
FrozenInstanceError (an AttributeError). Import-light: the child imports it.
"""

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen instance."""


class _Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default, default_factory):
        self.default = default
        self.default_factory = default_factory


def field(*, default=_MISSING, default_factory=_MISSING):
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return _Field(default, default_factory)


def _init(self, *args, **kwargs):
    cls = type(self)
    names = cls.__record_fields__
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}.__init__() takes {len(names) + 1} positional arguments "
                        f"but {len(args) + 1} were given")
    defaults = cls.__record_defaults__
    setter = object.__setattr__
    for i, name in enumerate(names):
        if i < len(args):
            if name in kwargs:
                raise TypeError(f"{cls.__name__}.__init__() got multiple values for argument {name!r}")
            value = args[i]
        elif name in kwargs:
            value = kwargs.pop(name)
        else:
            default = defaults.get(name, _MISSING)
            if default is _MISSING:
                raise TypeError(f"{cls.__name__}.__init__() missing required argument: {name!r}")
            value = default.default_factory() if isinstance(default, _Field) else default
        setter(self, name, value)
    for name in kwargs:
        if name not in names:
            raise TypeError(f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}")
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _values(self):
    return tuple(getattr(self, name) for name in type(self).__record_fields__)


def _repr(self):
    cls = type(self)
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in cls.__record_fields__)
    return f"{cls.__qualname__}({inner})"


def _eq(self, other):
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _hash(self):
    return hash(_values(self))


def _frozen_setattr(self, name, value):
    if type(self).__record_frozen_cls__ is type(self) or name in type(self).__record_fields__:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self, name):
    if type(self).__record_frozen_cls__ is type(self) or name in type(self).__record_fields__:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def dataclass(cls=None, *, frozen=False):
    def wrap(cls):
        names = tuple(cls.__dict__.get("__annotations__", {}))
        defaults, seen_default = {}, False
        for name in names:
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Field):
                if value.default_factory is not _MISSING:
                    defaults[name] = value
                    delattr(cls, name)
                elif value.default is not _MISSING:
                    defaults[name] = value.default
                    setattr(cls, name, value.default)
                else:
                    delattr(cls, name)
            elif value is not _MISSING:
                defaults[name] = value
            if name in defaults:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        cls.__record_fields__ = names
        cls.__record_defaults__ = defaults
        cls.__match_args__ = names
        cls.__init__ = _init
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _repr
        if "__eq__" not in cls.__dict__:
            cls.__eq__ = _eq
        if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
            cls.__hash__ = _hash if frozen else None
        if frozen:
            cls.__record_frozen_cls__ = cls
            cls.__setattr__ = _frozen_setattr
            cls.__delattr__ = _frozen_delattr
        return cls

    return wrap if cls is None else wrap(cls)
