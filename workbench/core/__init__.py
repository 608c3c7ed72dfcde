"""The Qt-free core: graph model, node catalog, shape inference, compiler, project files.

Importing it imports torch (the catalog's layers are torch.nn modules), compiler included."""
from workbench.core import catalog
from workbench.core.analysis import Analysis, Problem, analyse
from workbench.core.compile import CompiledModel, CompileError, TrainingPlan, compile_model, training_plan
from workbench.core.graph import (CycleError, Edge, Graph, GraphError, GraphEvent, Node, ParamError,
                                  PortMismatch, PortOccupied)
from workbench.core.project import Project, ProjectError, load, save
from workbench.core.spec import NodeSpec, Param, Port, ShapeError
from workbench.core.types import BATCH, TensorType

__all__ = [
    "catalog", "Analysis", "Problem", "analyse", "CycleError", "Edge", "Graph", "GraphError",
    "GraphEvent", "Node", "ParamError", "PortMismatch", "PortOccupied", "Project", "ProjectError",
    "load", "save", "NodeSpec", "Param", "Port", "ShapeError", "BATCH", "TensorType",
    "compile_model", "training_plan", "CompiledModel", "TrainingPlan", "CompileError",
]

