"""NEST's exception classes (``nest.NESTErrors``), each also the Python built-in error it stands for.

PyNEST raises ``nest.NESTErrors.<Name>`` for errors of the kernel, all
subclasses of ``nest.NESTErrors.KernelException`` (``nest.NESTError``).
This module declares the same names, so that ``except nest.NESTErrors.BadProperty``
and ``type(e).__name__`` read the same with either module. Each class is
also a subclass of the built-in error this layer raised before it had these
classes (:class:`ValueError` for bad values, :class:`TypeError` for wrong
types, :class:`KeyError` for unknown keys, :class:`NotImplementedError` for
what this layer does not provide), so ``except ValueError`` keeps working.

``KernelException`` derives from :class:`Exception` only, as NEST's does. A
bare ``KernelException`` (what NEST raises for e.g. a bad resolution or
``Run`` without ``Prepare``) is raised here as :data:`KernelError`, a
subclass also named ``KernelException`` that is a :class:`ValueError` too.
``NotImplemented`` is deliberately not a ValueError: a script's
``except ValueError`` fallback would otherwise swallow a feature that is not
built.
"""
from __future__ import annotations

import builtins
import sys

__all__ = ["KernelException", "KernelError"]


class KernelException(Exception):
    """Base of every NEST kernel error (``nest.NESTError``)."""


def _declare(name: str, builtin: type[BaseException]) -> type[KernelException]:
    cls = type(name, (KernelException, builtin), {"__doc__": f"NEST's {name} (also a {builtin.__name__})",
                                                    "__module__": __name__})
    setattr(sys.modules[__name__], name, cls)
    __all__.append(name)
    return cls


#: NEST 3.10's error classes and the built-in each also is.
NEST_ERRORS: dict[str, type[BaseException]] = {
    **dict.fromkeys("""BadDelay BadParameter BadParameterValue BadProperty DimensionMismatch DistributionError
        IllegalConnection IncompatibleReceptorType InexistentConnection InvalidDefaultResolution InvalidTimeInModel
        LayerExpected LayerNodeExpected LocalNodeExpected ModelInUse NamingConflict NewModelNameExists
        NodeWithProxiesExpected NumericalInstability RangeCheck StepMultipleRequired TimeMultipleRequired
        UnaccessedDictionaryEntry UnexpectedEvent UnknownCompartment UnknownComponent UnknownModelName UnknownNode
        UnknownPort UnknownReceptorType UnknownSynapseType UnknownThread UnmatchedSteps UnsupportedEvent
        """.split(), ValueError),
    **dict.fromkeys("""BackendAlreadyRegistered BackendNotPrepared BackendPrepared DynamicModuleManagementError
        GSLSolverFailure IOError InternalError MPIErrorCode MPIPortsFileMissing MPIPortsFileUnknown
        MUSICChannelAlreadyMapped MUSICChannelUnknown MUSICPortAlreadyPublished MUSICPortHasNoWidth
        MUSICPortUnconnected MUSICPortUnknown MUSICSimulationHasRun NoThreadSiblingsAvailable UndefinedName
        """.split(), RuntimeError),
    "TypeMismatch": TypeError,
    "KeyError": builtins.KeyError,
    "NotImplemented": NotImplementedError,
}
for _name, _builtin in NEST_ERRORS.items():
    _declare(_name, _builtin)

#: A bare NEST ``KernelException`` as this layer raises it: the same name, also a ValueError.
KernelError = type("KernelException", (KernelException, ValueError),
                   {"__doc__": "NEST's bare KernelException (also a ValueError)", "__module__": __name__,
                    "__qualname__": "KernelError"})
