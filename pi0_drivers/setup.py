from setuptools import find_packages, setup

package_name = 'pi0_drivers'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description='The chunk executor and the per-robot drivers of pi0_ros (same code on hardware and in simulation).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'chunk_executor = pi0_drivers.entry_points:chunk_executor',
            'robot_driver = pi0_drivers.entry_points:robot_driver',
        ],
    },
)
